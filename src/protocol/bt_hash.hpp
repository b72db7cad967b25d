#pragma once
// BitTorrent's hashes of one file, computed in the same single pass that
// hashes peerlab's chunks: v1's SHA-1 per piece (BEP 3) and v2's SHA-256
// merkle tree of 16 KiB blocks (BEP 52) with its piece layer and root.
//
// The node hashes a file on several threads, so the unit of work is a range
// of the file aligned on pieces: a range_hasher is fed that range's bytes in
// order (in slices of any size) and gives its piece hashes; combine() joins
// the ranges of a whole file. With the piece length equal to the peerlab
// chunk size (both powers of two ≥ 256 KiB), a range is simply a chunk.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "protocol/bt_merkle.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

inline constexpr std::uint32_t min_piece_bytes = 16 * 1024;
inline constexpr std::uint32_t max_piece_bytes = 64 * 1024 * 1024;
// Bounds what a torrent costs to hold: ~52 MiB of piece hashes (v1 + v2).
inline constexpr std::uint64_t max_pieces = 1 << 20;

// A power of two between min_piece_bytes and max_piece_bytes.
bool is_valid_piece_length(std::uint64_t piece_length);

// How a file divides into pieces and 16 KiB blocks.
struct piece_layout {
  std::uint64_t file_size = 0;
  std::uint32_t piece_length = 256 * 1024;

  std::uint64_t piece_count() const { return (file_size + piece_length - 1) / piece_length; }
  std::uint64_t block_count() const { return (file_size + block_bytes - 1) / block_bytes; }
  std::uint32_t blocks_per_piece() const { return piece_length / block_bytes; }
  // Bytes of piece i (the last one may be short).
  std::uint32_t piece_size(std::uint64_t i) const;
};

// A valid piece length and at most max_pieces pieces; "" or the reason not.
std::string layout_problem(const piece_layout& layout);

// The piece length a torrent of this file gets from us: the smallest power
// of two ≥ `preferred` (itself at least 16 KiB) giving at most max_pieces.
std::uint32_t piece_length_for(std::uint64_t file_size, std::uint32_t preferred = 256 * 1024);

// What one range of the file hashes to.
struct range_hashes {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::vector<sha1_digest> v1_pieces;  // SHA-1 of each piece in the range
  // Each piece's merkle subtree root, its leaves padded with zero hashes to
  // the full piece width: the piece layer's entries for this range.
  std::vector<sha256_digest> v2_piece_roots;
  // The 16 KiB leaf hashes: kept when asked for, and always when the whole
  // file is one piece (its root is then taken over the leaves directly).
  std::vector<sha256_digest> v2_blocks;
  // When finish() was asked for it and the range ends the file with a short
  // piece: the SHA-1 of that piece followed by zeros up to a whole piece.
  // In a multi-file torrent whose next file starts on a piece (a BEP 47 pad
  // file in between), that is the v1 hash of the file's last piece.
  std::optional<sha1_digest> v1_padded_last;
};

// The hashes of a whole file.
struct file_hashes {
  std::vector<sha1_digest> v1_pieces;
  // One hash per piece; empty when the file is no larger than one piece
  // (BEP 52: such a file has no piece layer, its root says everything).
  std::vector<sha256_digest> piece_layer;
  sha256_digest pieces_root{};  // all zero for an empty file (it has none)

  bool operator==(const file_hashes&) const = default;
};

// A file's hashes for a multi-file torrent whose files all start on a piece:
// its last piece's SHA-1 also with the pad's zeros (see range_hashes).
struct aligned_file_hashes {
  file_hashes hashes;
  std::optional<sha1_digest> v1_padded_last;  // only when the last piece is short

  bool operator==(const aligned_file_hashes&) const = default;
};

// What finish() does with a short last piece of the file.
enum class tail_padding {
  none,          // v1 hashes it as it is (single-file torrents, the last file)
  also_with_pad  // and also followed by zeros to a whole piece (v1_padded_last)
};

class range_hasher {
 public:
  // offset a multiple of the piece length; offset + length one too, or the
  // file's end. An error for a range that is not so aligned or not inside.
  static result<range_hasher> create(const piece_layout& layout, std::uint64_t offset,
                                     std::uint64_t length, bool keep_blocks = false);

  range_hasher(range_hasher&&) noexcept;
  range_hasher& operator=(range_hasher&&) noexcept;
  ~range_hasher();

  // The range's next bytes. Bytes past the range's end are counted, not
  // hashed, and make finish() fail.
  void update(std::span<const std::uint8_t> bytes);
  // An error unless exactly the range's bytes were fed.
  result<range_hashes> finish(tail_padding padding = tail_padding::none);

 private:
  struct state;
  explicit range_hasher(std::unique_ptr<state> s);
  std::unique_ptr<state> s_;
};

// Joins the hashes of ranges that tile the file in order (from offset 0 to
// its size, no gaps or overlaps) into the file's hashes.
result<file_hashes> combine(const piece_layout& layout, std::span<const range_hashes> ranges);

// One pass over a whole file in memory (tests, small files).
result<file_hashes> hash_file(const piece_layout& layout, std::span<const std::uint8_t> bytes);
result<aligned_file_hashes> hash_file_aligned(const piece_layout& layout,
                                              std::span<const std::uint8_t> bytes);

// The leaf hashes of one piece's bytes (to answer BEP 52 requests for
// block-layer hashes, or to find the bad block of a piece).
std::vector<sha256_digest> block_hashes(std::span<const std::uint8_t> piece);

}  // namespace peerlab::protocol::bt

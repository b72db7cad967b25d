#pragma once
// Where a multi-file torrent's bytes live. A torrent's download is one
// download over one "piece space": piece i is bytes [i * piece_length,
// (i + 1) * piece_length) of it. This file maps a range of that space to the
// file ranges it covers — pure arithmetic, no files.
//
// - v1 and hybrid: the piece space is the v1 concatenation of the files in
//   the order the torrent lists them, BEP 47 pad files included (a hybrid's
//   pads align each file on a piece; an unaligned v1 torrent has none, and a
//   piece may span several files).
// - v2 only: BEP 52 pieces never span files; the piece space is each file in
//   file-tree order padded with zeros to a piece boundary (all but the last),
//   which is the space a hybrid of the same files has and the one piece
//   indices on the wire count in. Those pads are entries here too.
// Empty files take no bytes of the space.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/bt_hash.hpp"
#include "protocol/result.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::protocol::bt {

struct layout_file {
  std::string path;          // relative, segments joined by '/' ("" for a pad)
  std::uint64_t offset = 0;  // in the piece space
  std::uint64_t length = 0;
  bool pad = false;  // zeros: never written, never a file
  // v2 (and hybrid): the file's merkle root and, for a file longer than one
  // piece, its piece layer (empty until known).
  std::optional<sha256_digest> pieces_root;
  std::vector<sha256_digest> piece_layer;
};

struct file_layout {
  std::uint32_t piece_length = 0;
  std::uint64_t total_bytes = 0;   // the piece space
  std::vector<layout_file> files;  // in piece-space order, contiguous, pads included

  std::uint64_t piece_count() const {
    return piece_length == 0 ? 0 : (total_bytes + piece_length - 1) / piece_length;
  }
  // Bytes of piece i (the last one may be short).
  std::uint32_t piece_size(std::uint64_t i) const;
};

// The layout of a parsed torrent (single-file ones too: one entry).
// Checks that the files are contiguous and end where the space does.
result<file_layout> make_file_layout(const torrent_info& t);

// One piece of a range of the piece space, inside one file (never an empty
// file); in order, together covering the range's bytes that the space has.
struct file_range {
  std::size_t file = 0;            // index in file_layout::files
  std::uint64_t file_offset = 0;   // where in that file
  std::uint64_t length = 0;        // > 0
  std::uint64_t space_offset = 0;  // where in the piece space
};
std::vector<file_range> ranges_of(const file_layout& l, std::uint64_t offset, std::uint64_t length);

// The pieces [first, end) that hold bytes of file `i` (first == end for an
// empty file).
struct piece_span {
  std::uint64_t first = 0;
  std::uint64_t end = 0;
};
piece_span pieces_of(const file_layout& l, std::size_t i);

// The file (never a pad nor an empty one) whose bytes begin piece `piece`,
// for v2's per-file checks; nullopt for a piece that begins in a pad.
std::optional<std::size_t> file_at_piece(const file_layout& l, std::uint64_t piece);

// Which non-pad files the paths in `only` select: a file's path, or a
// directory of files (a prefix ending at a '/'). An error names a path that
// selects nothing. Empty `only`: every file.
result<std::vector<bool>> select_files(const file_layout& l, const std::vector<std::string>& only);

}  // namespace peerlab::protocol::bt

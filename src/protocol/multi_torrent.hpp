#pragma once
// A multi-file torrent (a shared folder as BitTorrent sees it) in the three
// formats: v2 (BEP 52: a `file tree`, each file its own merkle tree), v1
// (BEP 3: a `files` list, one SHA-1 per piece of the files' concatenation)
// and hybrid (both, describing the same bytes).
//
// Every file starts on a piece boundary: in v1 a BEP 47 pad file (`attr`
// "p", path [".pad", "N"], N zero bytes) follows each file whose end is not
// on a boundary, except the last; v2 aligns files so implicitly. So every
// piece lies in one file (its tail zeros for a pad), the v1 and v2 pieces
// are the same byte ranges, and a file's hashes do not depend on its
// neighbours (only its last v1 piece's, padded: aligned_file_hashes).
// Torrents carry files, not directories: an empty directory has no place.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/bt_hash.hpp"
#include "protocol/result.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::protocol::bt {

// Bounds a folder's torrent so that the .torrent (20 bytes per piece in v1,
// 32 in the piece layers: 13 MiB at most) stays under the 16 MiB that
// parse_torrent, and clients, accept.
inline constexpr std::uint64_t max_multi_torrent_pieces = 1 << 18;

struct multi_torrent_file {
  std::vector<std::string> path;  // relative segments under the torrent's name
  std::uint64_t size = 0;
  aligned_file_hashes hashes;  // with the torrent's piece length
};

struct multi_torrent_source {
  std::string name;  // the top directory (a safe file name)
  std::uint32_t piece_length = 256 * 1024;
  std::vector<multi_torrent_file> files;  // any order: sorted by path when built
  std::string announce;                   // tracker URL; "" for none
  std::string created_by = "peerlab";
  std::optional<std::int64_t> creation_date;  // seconds since 1970 (no clock in here)
};

struct built_multi_torrent {
  built_torrent torrent;
  // The piece space, the same for all three formats: every file (in the
  // torrent's order) and pad, with its offset in v1's concatenation; a
  // file's pieces_root is set (not its piece layer). What a seeder maps a
  // piece to file ranges with.
  std::vector<torrent_file_entry> layout;
  // For each entry of `layout`, the index of its file in the source's
  // `files` as given (pads: npos).
  std::vector<std::size_t> source_index;
  std::uint64_t total_size = 0;  // v1 concatenation, pads included
};
inline constexpr std::size_t pad_entry = static_cast<std::size_t>(-1);

// The piece length a folder's torrent gets: from 256 KiB, halved (down to
// 16 KiB) while the pads would outweigh the files (many small files), then
// doubled while the torrent would have more than max_multi_torrent_pieces.
std::uint32_t multi_torrent_piece_length(std::span<const std::uint64_t> sizes);
// Pieces of files that each start on a piece: the sum of their own counts.
std::uint64_t aligned_piece_count(std::span<const std::uint64_t> sizes, std::uint32_t piece_length);

// Canonical order: by path, segment by segment, bytewise (a v2 file tree's
// order; "a/b" before "a.txt").
bool path_before(const std::vector<std::string>& a, const std::vector<std::string>& b);

// An error names what does not fit: unsafe or duplicate paths, no byte at
// all, hashes that do not match a size or piece length, too many pieces.
result<built_multi_torrent> make_multi_torrent(const multi_torrent_source& source,
                                               torrent_format format);

}  // namespace peerlab::protocol::bt

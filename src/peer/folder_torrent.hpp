#pragma once
// A shared folder as a BitTorrent torrent: v1 (a `files` list with BEP 47 pad
// files), v2 (a `file tree`) or hybrid, all three with one piece length
// chosen from the folder's sizes, every file starting on a piece
// (protocol/multi_torrent.hpp). Its hashes are computed in the read that
// hashes the folder's chunks when it is shared (folder_scan), kept as
// folders/ID.bt, and hashed here for a folder that has none yet.
//
// The piece space a seeder serves (the same for all three formats): the
// files in the torrent's order, each followed by a pad of zeros up to the
// next piece (none after the last): piece i is bytes [i * piece_length,
// (i + 1) * piece_length) of that concatenation, within one file and its pad.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "peer/folder_book.hpp"
#include "protocol/multi_torrent.hpp"

namespace peerlab::peer {

// The piece length of a folder's torrents (from its files' sizes).
std::uint32_t folder_piece_length(const protocol::folder_manifest& m);

// The info-hashes of the folder's three torrents, filled in `h` (left empty
// when the folder makes no torrent: no byte in it).
void add_folder_info_hashes(folder_bt_hashes& h, const protocol::folder_manifest& m);

// ID.bt: a magic, the piece length, then per file entry in the manifest's
// order its v1 piece hashes, a flag and its padded last piece hash, its
// pieces root and its piece layer. Checked on reading against the manifest's
// sizes, and each piece layer against its root.
std::vector<std::uint8_t> encode_folder_bt(const folder_bt_hashes& h,
                                           const protocol::folder_manifest& m);
result<folder_bt_hashes> decode_folder_bt(std::span<const std::uint8_t> bytes,
                                          const protocol::folder_manifest& m);

// Blocking (the hashing lane): the hashes of a folder that has none, each
// file read in place on several threads; refused if a file changed since its
// stamp (or is not in place).
result<folder_bt_hashes> hash_folder_bt(const folder_record& r);

// One entry of the piece space.
struct folder_torrent_file {
  std::vector<std::string> path;  // relative to the torrent's name (the folder)
  std::uint64_t offset = 0;       // in the piece space
  std::uint64_t length = 0;
  bool pad = false;                                        // zeros, on no disk
  fs::path disk_path;                                      // the file in place ("" for a pad)
  std::optional<file_stamp> stamp;                         // as recorded (none for a pad)
  std::optional<std::size_t> entry;                        // its index in the folder manifest
  std::optional<protocol::bt::sha256_digest> pieces_root;  // v2, a file of ≥ 1 byte
};

struct folder_torrent {
  protocol::bt::torrent_format format = protocol::bt::torrent_format::hybrid;
  protocol::bt::built_torrent torrent;  // the .torrent's bytes, its info dictionary, info-hashes
  std::string magnet;                   // btih (v1, hybrid) and btmh (v2, hybrid)
  std::uint32_t piece_length = 0;
  std::uint64_t total_size = 0;  // of the piece space, pads included
  std::size_t piece_count = 0;
  std::vector<folder_torrent_file> files;  // in the torrent's order, pads between
};

// The torrent of a complete folder with its hashes (r.bt), announcing
// `tracker` ("" for none): what `peerlab torrent` writes, and what a
// multi-file seeder needs to serve its pieces. An error for a folder with no
// hashes yet, a file not in place, or nothing a torrent can carry.
result<folder_torrent> make_folder_torrent(const folder_record& r,
                                           protocol::bt::torrent_format format,
                                           const std::string& tracker);

}  // namespace peerlab::peer

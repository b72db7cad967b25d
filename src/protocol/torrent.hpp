#pragma once
// .torrent files (BEP 3 metainfo, BEP 52 v2, hybrid v1+v2): building one for
// a file we share, and reading one — or a magnet link — that a user hands us.
// The info-hash that names a torrent is the hash of the bencoded `info`
// dictionary exactly as it appears in the file: SHA-1 for v1, SHA-256 for v2
// (truncated to 20 bytes where the wire and trackers have room for no more).

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/bt_hash.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

enum class torrent_format { v1, v2, hybrid };
std::string_view to_string(torrent_format f);

struct info_hashes {
  std::optional<sha1_digest> v1;
  std::optional<sha256_digest> v2;

  // What handshakes, trackers and the DHT carry: the v1 hash, or the v2
  // hash truncated to 20 bytes for a v2-only torrent (BEP 52).
  sha1_digest wire_id() const;
  static sha1_digest truncate(const sha256_digest& v2);
  bool operator==(const info_hashes&) const = default;
};
info_hashes compute_info_hashes(std::span<const std::uint8_t> info_dict, torrent_format f);

// What a single-file torrent is made of.
struct torrent_source {
  std::string name;  // a safe file name (is_safe_file_name)
  std::uint64_t size = 0;
  std::uint32_t piece_length = 256 * 1024;
  file_hashes hashes;    // from bt_hash for this size and piece length
  std::string announce;  // tracker URL; "" for none
  std::string created_by = "peerlab";
  std::optional<std::int64_t> creation_date;  // seconds since 1970 (no clock in here)
};

struct built_torrent {
  std::vector<std::uint8_t> bytes;       // the .torrent file
  std::vector<std::uint8_t> info_bytes;  // its info dictionary (served by BEP 9)
  info_hashes hashes;
};
result<built_torrent> make_torrent(const torrent_source& source, torrent_format format);

// Limits for reading torrents from anywhere.
struct torrent_limits {
  std::size_t max_torrent_bytes = 16 * 1024 * 1024;
  std::size_t max_files = 100'000;
  std::size_t max_path_depth = 32;    // directories + the file name
  std::size_t max_path_bytes = 4096;  // all segments of one path together
  std::size_t max_trackers = 64;
  std::uint64_t max_total_bytes = std::uint64_t{1} << 50;  // 1 PiB
};

struct torrent_file_entry {
  std::vector<std::string> path;  // relative segments; each one is a safe file name
  std::uint64_t length = 0;
  std::uint64_t offset = 0;                  // in the v1 concatenation of all files (pads included)
  bool pad = false;                          // BEP 47 pad file (v1 part of a hybrid torrent)
  std::optional<sha256_digest> pieces_root;  // v2: files longer than 0 bytes
  std::vector<sha256_digest> piece_layer;    // v2: files longer than one piece, from `piece layers`
};

struct torrent_info {
  torrent_format format = torrent_format::v1;
  std::string name;
  bool multi_file = false;
  std::uint32_t piece_length = 0;
  std::uint64_t total_size = 0;  // v1 concatenation (pad files included)
  std::vector<torrent_file_entry> files;
  std::vector<sha1_digest> v1_pieces;
  std::vector<std::string> trackers;  // announce, then announce-list, no duplicates
  info_hashes hashes;
  std::vector<std::uint8_t> info_bytes;  // the raw info dictionary
  // Every v2 file longer than a piece has its piece layer (always true for v1;
  // false for a bare info dict or a .torrent without `piece layers`).
  bool piece_layers_complete = false;
};

// A whole .torrent file. Everything is checked: sizes against piece counts,
// paths (no "..", ".", empty or absolute segments, no NUL or separators),
// the v1 and v2 halves of a hybrid describing the same files, and each piece
// layer hashing to its file's root.
result<torrent_info> parse_torrent(std::span<const std::uint8_t> bytes,
                                   const torrent_limits& limits = {});
// An info dictionary alone, as BEP 9 delivers it for a magnet link; the
// caller checks its hash against the magnet's info-hash. No piece layers.
result<torrent_info> parse_info_dict(std::span<const std::uint8_t> info_bytes,
                                     const torrent_limits& limits = {});

// magnet:?xt=urn:btih:HEX40[&xt=urn:btmh:1220HEX64]&dn=NAME&tr=URL&xl=SIZE
struct magnet_link {
  info_hashes hashes;
  std::string name;
  std::vector<std::string> trackers;
  std::optional<std::uint64_t> size;
};
std::string make_magnet(const magnet_link& m);
result<magnet_link> parse_magnet(std::string_view uri, const torrent_limits& limits = {});

}  // namespace peerlab::protocol::bt

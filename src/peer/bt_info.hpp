#pragma once
// What the node knows of a file as a BitTorrent peer: its v1 and v2 hashes,
// the info dictionaries of its torrents, and the 20-byte info-hashes that a
// handshake may name it by. A shared file has all three torrents (v1, v2,
// hybrid), hashed in the pass that hashed its chunks, with the piece length
// equal to the chunk size, so a piece is a chunk. A file downloaded from a
// torrent has that torrent only, its info dictionary exactly as given (so
// its info-hash is the one the swarm knows). Built once; read-only afterwards.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol/manifest.hpp"
#include "protocol/result.hpp"
#include "protocol/torrent.hpp"
#include "protocol/torrent_files.hpp"

namespace peerlab::peer {

struct bt_torrent {
  std::vector<std::uint8_t> info_bytes;  // the info dictionary (what BEP 9 serves)
  protocol::bt::info_hashes hashes;
};

struct bt_info {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t piece_length = 0;
  // v1_pieces empty for a v2 torrent; pieces_root and piece_layer empty for a v1 one.
  protocol::bt::file_hashes hashes;
  bt_torrent v1, v2, hybrid;
  // Which of v1, v2 and hybrid it has (all three for a share, one for a
  // downloaded torrent): of() is meaningful for these only.
  std::vector<protocol::bt::torrent_format> formats;
  // Downloaded: the torrent's trackers (announce, then announce-list); the
  // torrent it came from is written around its own info dictionary.
  bool downloaded = false;
  std::vector<std::string> trackers;
  // The merkle tree from the piece layer up to the root (layer 0 = pieces,
  // padded): answers BEP 52 hash requests for piece-layer hashes.
  std::vector<std::vector<protocol::bt::sha256_digest>> piece_tree;
  // The same for each file of a multi-file torrent that has a piece layer,
  // by its pieces root (a hash request names the file by its root).
  std::map<protocol::bt::sha256_digest, std::vector<std::vector<protocol::bt::sha256_digest>>>
      file_piece_trees;
  // A downloaded multi-file torrent: its files in its piece space (`size`
  // is that space's; v2 roots and layers are per file there). Null for one file.
  std::shared_ptr<const protocol::bt::file_layout> layout;

  const bt_torrent& of(protocol::bt::torrent_format f) const;
  bool has(protocol::bt::torrent_format f) const;
  // Pieces of the file (v1_pieces.size() is 0 for a v2 torrent).
  std::size_t piece_count() const;
  // Every 20-byte info-hash a peer may open a handshake with, and which
  // torrent it names: v1 and hybrid by their SHA-1, v2 and hybrid by their
  // SHA-256 truncated (BEP 52).
  std::vector<std::pair<protocol::bt::sha1_digest, protocol::bt::torrent_format>> wire_ids() const;
  // The .torrent file in one of `formats`, announcing `tracker` ("" for
  // none; a downloaded torrent's own trackers follow it).
  protocol::result<protocol::bt::built_torrent> torrent(protocol::bt::torrent_format f,
                                                        const std::string& tracker) const;
  // Its magnet link, with `tracker` ("" for none) and a downloaded torrent's own trackers.
  std::string magnet(protocol::bt::torrent_format f, const std::string& tracker) const;
};

// An error for a file BitTorrent cannot carry (an empty one).
protocol::result<std::shared_ptr<const bt_info>> make_bt_info(const protocol::manifest& m,
                                                              protocol::bt::file_hashes hashes);

// A downloaded torrent (v1, hybrid, or v2 with its piece layers): its
// hashes, piece tree (single file) or file layout (multi-file), and the one
// torrent of t.format, whose info dictionary and info-hashes are t's own. An
// error for an empty torrent, or missing v2 piece layers.
protocol::result<std::shared_ptr<const bt_info>> make_bt_info(const protocol::bt::torrent_info& t);

// A torrent download's content id: the SHA-256 of its info dictionary (for
// v2 and hybrid, the v2 info-hash). Unlike a manifest's id, nothing a
// peerlab peer could check a manifest against.
protocol::content_id torrent_content_id(const protocol::bt::torrent_info& t);

// A .torrent file around an info dictionary kept byte for byte (its
// info-hash unchanged): `trackers` as announce and announce-list (one tier
// each), and for a v2 or hybrid file longer than one piece its piece layer
// (of a multi-file torrent: every file's in `layout`, when not null).
std::vector<std::uint8_t> torrent_file_around(std::span<const std::uint8_t> info_bytes,
                                              const std::vector<std::string>& trackers,
                                              const protocol::bt::file_hashes& hashes,
                                              const protocol::bt::file_layout* layout = nullptr);

// The hashes as kept in the data directory (manifests/ID.bt): a magic, then
// the SHA-1 of each piece, the pieces root and the piece layer. Checked on
// reading against the manifest's sizes and the root.
std::vector<std::uint8_t> encode_bt_hashes(const protocol::bt::file_hashes& h);
protocol::result<protocol::bt::file_hashes> decode_bt_hashes(std::span<const std::uint8_t> bytes,
                                                             const protocol::manifest& m);

}  // namespace peerlab::peer

#pragma once
// What the node knows of a shared file as a BitTorrent seeder: its v1 and v2
// hashes (computed in the pass that hashed its chunks, with the piece length
// equal to the chunk size, so a piece is a chunk), the info dictionaries of
// its v1, v2 and hybrid torrents, and the 20-byte info-hashes that a
// handshake may name it by. Built once per file; read-only afterwards.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol/manifest.hpp"
#include "protocol/result.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::peer {

struct bt_torrent {
  std::vector<std::uint8_t> info_bytes;  // the info dictionary (what BEP 9 serves)
  protocol::bt::info_hashes hashes;
};

struct bt_info {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t piece_length = 0;
  protocol::bt::file_hashes hashes;
  bt_torrent v1, v2, hybrid;
  // The merkle tree from the piece layer up to the root (layer 0 = pieces,
  // padded): answers BEP 52 hash requests for piece-layer hashes.
  std::vector<std::vector<protocol::bt::sha256_digest>> piece_tree;

  const bt_torrent& of(protocol::bt::torrent_format f) const;
  // Every 20-byte info-hash a peer may open a handshake with, and which
  // torrent it names: v1 and hybrid by their SHA-1, v2 and hybrid by their
  // SHA-256 truncated (BEP 52).
  std::vector<std::pair<protocol::bt::sha1_digest, protocol::bt::torrent_format>> wire_ids() const;
  // The .torrent file in one format, announcing `tracker` ("" for none).
  protocol::result<protocol::bt::built_torrent> torrent(protocol::bt::torrent_format f,
                                                        const std::string& tracker) const;
  std::string magnet(protocol::bt::torrent_format f, const std::string& tracker) const;
};

// An error for a file BitTorrent cannot carry (an empty one).
protocol::result<std::shared_ptr<const bt_info>> make_bt_info(const protocol::manifest& m,
                                                              protocol::bt::file_hashes hashes);

// The hashes as kept in the data directory (manifests/ID.bt): a magic, then
// the SHA-1 of each piece, the pieces root and the piece layer. Checked on
// reading against the manifest's sizes and the root.
std::vector<std::uint8_t> encode_bt_hashes(const protocol::bt::file_hashes& h);
protocol::result<protocol::bt::file_hashes> decode_bt_hashes(std::span<const std::uint8_t> bytes,
                                                             const protocol::manifest& m);

}  // namespace peerlab::peer

#pragma once
// What the BitTorrent side tells the swarm about a torrent it downloads: a
// session is a chunk_source (a piece is a chunk) from the moment the peer
// unchokes us until it chokes us again or goes, and hands in each piece
// once all its blocks are in. The swarm verifies and writes pieces as it
// does peerlab chunks.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/bt_wire.hpp"

namespace peerlab::peer {

class bt_session;

class bt_download_events {
 public:
  virtual ~bt_download_events() = default;
  // `s` may be asked for pieces now, or what it has changed wholesale.
  virtual void bt_source_ready(bt_session& s) = 0;
  // `s` (a source) has one more piece.
  virtual void bt_source_has(bt_session& s, std::uint32_t piece) = 0;
  // `s` may no longer be asked (it choked us, or is closing): its requests are void.
  virtual void bt_source_gone(bt_session& s) = 0;
  virtual void bt_piece(bt_session& s, std::uint32_t piece, std::vector<std::uint8_t> data) = 0;
  virtual void bt_rejected(bt_session& s, std::uint32_t piece) = 0;
  // A magnet's info dictionary, proven by its info-hash.
  virtual void bt_metadata(const protocol::bt::sha1_digest& wire_id,
                           std::vector<std::uint8_t> info) = 0;
  // The answer to a hash request of a magnet's session (values empty: refused).
  virtual void bt_hashes(bt_session& s, protocol::bt::hashes h) = 0;
};

}  // namespace peerlab::peer

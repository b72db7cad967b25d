#pragma once
// What every connected peer says it holds (its latest `catalog`, §8.1), and
// our own catalog as we announce it. The swarm asks it who holds what.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "peer/store.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

class catalog {
 public:
  using peer_key = std::uint64_t;  // a connection's serial, never reused

  // A peer's new catalog replaces its previous one.
  void set(peer_key peer, const std::vector<protocol::catalog_entry>& entries);
  void erase(peer_key peer);

  bool holds(peer_key peer, const protocol::content_id& id) const;
  // Every entry of every peer, for listings (`files`) and id prefixes.
  const std::map<peer_key, std::map<protocol::content_id, protocol::catalog_entry>>& all() const {
    return peers_;
  }

  // What we announce: everything we share or are downloading.
  static protocol::catalog own(const store& storage);

 private:
  std::map<peer_key, std::map<protocol::content_id, protocol::catalog_entry>> peers_;
};

}  // namespace peerlab::peer

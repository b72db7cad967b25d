#include "peer/catalog.hpp"

namespace peerlab::peer {

void catalog::set(peer_key peer, const std::vector<protocol::catalog_entry>& entries) {
  auto& mine = peers_[peer];
  mine.clear();
  for (const auto& e : entries)
    mine.emplace(e.id, e);
}

void catalog::erase(peer_key peer) {
  peers_.erase(peer);
}

bool catalog::holds(peer_key peer, const protocol::content_id& id) const {
  const auto it = peers_.find(peer);
  return it != peers_.end() && it->second.contains(id);
}

protocol::catalog catalog::own(const store& storage) {
  protocol::catalog out;
  for (const auto& [id, item] : storage.items()) {
    if (out.entries.size() >= protocol::max_catalog_entries) break;
    if (item.in_folder) continue;  // announced as its folder
    if (item.torrent) continue;    // no peerlab manifest: fetched over BitTorrent only
    out.entries.push_back({id, item.manifest.name, item.manifest.size, item.complete});
  }
  return out;
}

}  // namespace peerlab::peer

// The store's BitTorrent side: each complete file's hashes, saved next to its
// manifest, and the index from info-hash to file that handshakes look up.

#include <fstream>
#include <iterator>

#include "peer/disk_io.hpp"
#include "peer/log.hpp"
#include "peer/store.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

fs::path store::bt_hashes_path(const protocol::content_id& id) const {
  return dir_ / "manifests" / (protocol::to_hex(id) + ".bt");
}

void store::load_bt(content& c) {
  std::ifstream in(bt_hashes_path(c.id), std::ios::binary);
  if (!in) return;  // shared by an older version: the swarm hashes it again
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  auto hashes = decode_bt_hashes(bytes, c.manifest);
  auto info = hashes ? make_bt_info(c.manifest, std::move(*hashes))
                     : protocol::result<std::shared_ptr<const bt_info>>{
                           protocol::error{hashes.error_message()}};
  if (!info) {
    log_line(log_level::warn) << "hashing " << c.path
                              << " again for BitTorrent: " << info.error_message();
    return;
  }
  c.bt = std::move(*info);  // indexed once load() records c
}

void store::set_bt(const protocol::content_id& id, std::shared_ptr<const bt_info> info,
                   bool save_it) {
  auto* c = find(id);
  if (!c || !(c->complete || c->torrent) || !info) return;
  unindex_bt(id);
  c->bt = std::move(info);
  index_bt(*c);
  // A torrent download's hashes live in its kept torrent, not in a .bt file.
  if (save_it && !c->torrent) {
    const auto bytes = encode_bt_hashes(c->bt->hashes);
    save(bt_hashes_path(id), std::string(bytes.begin(), bytes.end()));
  }
}

void store::index_bt(const content& c) {
  if (!c.bt) return;
  for (const auto& [wire, format] : c.bt->wire_ids())
    bt_index_[wire] = {c.id, format};
}

void store::unindex_bt(const protocol::content_id& id) {
  std::erase_if(bt_index_, [&](const auto& entry) { return entry.second.first == id; });
}

std::optional<store::bt_match> store::find_bt(const bt::sha1_digest& wire_id) const {
  const auto it = bt_index_.find(wire_id);
  if (it == bt_index_.end()) return std::nullopt;
  const auto item = items_.find(it->second.first);
  if (item == items_.end() || !item->second.bt) return std::nullopt;
  return bt_match{&item->second, it->second.second};
}

}  // namespace peerlab::peer

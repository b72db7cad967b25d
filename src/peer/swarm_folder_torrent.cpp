// The swarm's folders as BitTorrent torrents: hashes for a folder that has
// none yet (the torrents themselves are built by folder_torrent), and each
// complete folder seeded as its three torrents.

#include "peer/folder_torrent.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;
using protocol::content_id;

asio::awaitable<result<std::shared_ptr<const folder_bt_hashes>>> swarm::folder_bt(
    protocol::content_id id) {
  const auto it = folders_.find(id);
  if (it == folders_.end()) co_return error{"this node has no such folder"};
  if (!it->second.record.complete || !all_files_in_place(it->second.record))
    co_return error{"this node does not have the whole folder"};
  if (it->second.record.bt) co_return it->second.record.bt;
  if (!folder_bt_hashing_.insert(id).second)
    co_return error{"its BitTorrent hashes are being computed; try again in a moment"};
  log_line(log_level::info) << "hashing folder " << it->second.record.manifest.name
                            << " for BitTorrent";
  auto record = it->second.record;  // a copy: the folder may change meanwhile
  auto hash = [&record] { return hash_folder_bt(record); };
  auto hashed = co_await disk_.run(disk_io::lane::hashing, hash);
  folder_bt_hashing_.erase(id);
  if (!hashed) co_return error{"cannot hash the folder for BitTorrent: " + hashed.error_message()};
  record.bt = std::make_shared<const folder_bt_hashes>(std::move(*hashed));
  auto save = [this, &record] { return folder_book_.save_bt(record.id, record); };
  if (auto saved = co_await disk_.run(disk_io::lane::files, save); !saved)
    log_line(log_level::warn) << saved.error_message();
  // Kept only if the folder is still the one that was hashed.
  const auto now = folders_.find(id);
  if (now != folders_.end() && now->second.record.stamps == record.stamps) {
    now->second.record.bt = record.bt;
    seed_folder_torrents(now->second.record);
  }
  co_return record.bt;
}

// Each torrent is a complete multi-file torrent whose tree is the folder in
// place, served like a downloaded tree (in parts, pads as zeros), listed by
// our tracker (seeds_bt) and found by handshakes through the store's index.
void swarm::seed_folder_torrents(const folder_record& r) {
  if (!r.bt || !r.complete || folder_torrents_.contains(r.id) || !all_files_in_place(r)) return;
  auto& seeded = folder_torrents_[r.id];
  for (const auto format :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    auto built = make_folder_torrent(r, format, "");
    if (!built) continue;  // nothing a torrent can carry (no byte in it)
    auto parsed = bt::parse_torrent(built->torrent.bytes);
    // A v2 torrent of a folder holding one file is that file's own torrent.
    if (!parsed || !parsed->multi_file) continue;
    auto c = store_.folder_torrent(*parsed, r.root);
    if (c && store_.find(c->id)) continue;  // downloaded as that torrent: served as it is
    if (!c) {
      log_line(log_level::warn) << "cannot seed folder " << r.manifest.name << " as a "
                                << bt::to_string(format) << " torrent: " << c.error_message();
      continue;
    }
    seeded.push_back(c->id);
    store_.add_download(std::move(*c));
  }
}

void swarm::unseed_folder_torrents(const content_id& folder) {
  const auto it = folder_torrents_.find(folder);
  if (it == folder_torrents_.end()) return;
  for (const auto& id : it->second)
    store_.remove(id);
  folder_torrents_.erase(it);
}

}  // namespace peerlab::peer

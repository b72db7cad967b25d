// The swarm's folders as BitTorrent torrents: hashes for a folder that has
// none yet (the torrents themselves are built by folder_torrent).

#include "peer/folder_torrent.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

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
  if (now != folders_.end() && now->second.record.stamps == record.stamps)
    now->second.record.bt = record.bt;
  co_return record.bt;
}

}  // namespace peerlab::peer

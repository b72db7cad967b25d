// The swarm's BitTorrent bookkeeping: hashes for files that have none yet.

#include <asio/co_spawn.hpp>

#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

asio::awaitable<void> swarm::hash_for_bittorrent(protocol::content_id id) {
  const auto* item = store_.find(id);
  if (!item || !item->complete || item->bt || item->manifest.size == 0) co_return;
  const auto path = item->path;
  const auto stamp = item->stamp;
  const auto manifest = item->manifest;
  auto hash = [&] { return store::hash_bt(path, stamp, manifest); };
  auto hashes = co_await disk_.run(disk_io::lane::hashing, hash);
  if (!hashes) {
    log_line(log_level::warn) << "no BitTorrent hashes for " << path.string() << ": "
                              << hashes.error_message();
    co_return;
  }
  auto info = make_bt_info(manifest, std::move(*hashes));
  if (!info) co_return;
  store_.set_bt(id, std::move(*info), true);
  log_line(log_level::info) << "BitTorrent hashes ready for " << path.string();
}

}  // namespace peerlab::peer

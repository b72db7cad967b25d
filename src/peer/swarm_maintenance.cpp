// The swarm's housekeeping: timeouts, retries and stalled downloads twice a
// second while something downloads, and shared files checked for changes.

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <tuple>

#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

using asio::use_awaitable;
using clock = std::chrono::steady_clock;
using protocol::content_id;

asio::awaitable<void> swarm::maintenance_loop() {
  auto last_file_check = clock::now();
  const auto seconds = [](duration t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t).count());
  };
  while (running_) {
    // Timeouts and new requests need a look twice a second while something
    // downloads; otherwise only the shared files do, now and then.
    const bool downloading = std::any_of(downloads_.begin(), downloads_.end(),
                                         [](const auto& d) { return d.second->active(); });
    tick_.expires_at(downloading ? clock::now() + 500ms
                                 : last_file_check + settings_.file_check_interval);
    std::error_code ec;
    co_await tick_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!running_) break;
    const auto now = clock::now();
    for (auto& [id, d] : downloads_) {
      if (d->state() == download_state::manifest) {
        if (d->manifest_from && now - d->manifest_asked > settings_.manifest_timeout)
          d->manifest_from.reset();
        if (!d->manifest_from) ask_manifest(*d);
        // No holder, or none that answers: nothing will come.
        if (now - d->started > settings_.no_holder_timeout) {
          const bool magnet =
              std::ranges::any_of(magnets_, [&](const auto& m) { return m.second.id == id; });
          fail(*d, std::string(magnet ? "no peer sent the metadata of "
                                      : "no peer sent the manifest of ") +
                       protocol::to_hex(id) + " within " + seconds(settings_.no_holder_timeout) +
                       " s");
        }
      } else if (d->state() == download_state::downloading) {
        d->check_timeouts(now);
        look_for_bt_sources(*d, now);
        if (now - d->last_progress() > settings_.no_holder_timeout && !d->writing()) {
          fail(*d, "no peer sent any of " + d->name + " for " +
                       seconds(settings_.no_holder_timeout) + " s");
        }
      }
    }
    // A v2 magnet whose piece layer nobody is asked for (the session asked
    // went away): someone else is.
    for (const auto& [wire_id, m] : magnets_) {
      if (m.torrent && m.layer_missing > 0 && (!m.layer_from || !bt_.session(*m.layer_from))) {
        ask_piece_layer(wire_id);
        break;  // (it may change magnets_ no more than this one entry)
      }
    }
    fill_all();
    if (now - last_file_check >= settings_.file_check_interval) {
      last_file_check = now;
      co_await drop_changed_files();
    }
  }
}

// A shared file edited or deleted in place no longer matches its manifest:
// stop offering it rather than serve bytes that every downloader would reject.
asio::awaitable<void> swarm::drop_changed_files() {
  std::vector<std::tuple<content_id, fs::path, file_stamp>> shared;
  for (const auto& [id, item] : store_.items()) {
    // (A multi-file torrent's tree is checked file by file at start.)
    if (item.complete && !item.tree) shared.emplace_back(id, item.path, item.stamp);
  }
  auto find_changed = [&] {
    std::vector<content_id> changed;
    for (const auto& [id, path, stamp] : shared) {
      const auto now = store::stamp_of(path);
      if (!now || !(*now == stamp)) changed.push_back(id);
    }
    return changed;
  };
  const auto changed = co_await disk_.run(disk_io::lane::files, find_changed);
  for (const auto& id : changed)
    stop_sharing(id);
}

void swarm::stop_sharing(const content_id& id) {
  const auto* item = store_.find(id);
  if (!item || !item->complete) return;
  log_line(log_level::warn) << "no longer sharing " << protocol::to_hex(id).substr(0, 12)
                            << ": its file changed or vanished";
  store_.remove(id);
  // A folder holding it no longer matches its torrents: they stop until the
  // folder is shared anew.
  if (const auto in = file_folders_.find(id); in != file_folders_.end()) {
    for (const auto& folder : in->second)
      unseed_folder_torrents(folder);
  }
  broadcast_catalog();
}

}  // namespace peerlab::peer

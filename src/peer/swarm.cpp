#include "peer/swarm.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "peer/bt_session.hpp"
#include "peer/log.hpp"
#include "peer/swarm_peer.hpp"

namespace peerlab::peer {

using asio::use_awaitable;
using clock = std::chrono::steady_clock;
using protocol::content_id;
using protocol::node_id;

swarm::swarm(asio::io_context& io, store& storage, swarm_settings settings)
    : io_(io),
      store_(storage),
      settings_(settings),
      tick_(io),
      uploader_(io, storage, disk_, settings_),
      bt_(io, storage, uploader_, settings_.bittorrent),
      folder_book_(storage.dir()) {
  store_.use(disk_);
  bt_.set_events(this);
  uploader_.on_file_changed([this](const content_id& id) { stop_sharing(id); });
}

swarm::~swarm() = default;

void swarm::start() {
  running_ = true;
  load_folders();
  // Downloads interrupted by a stop or a crash carry on where they were.
  for (const auto& [id, item] : store_.items()) {
    if (item.complete && !item.bt) asio::co_spawn(io_, hash_for_bittorrent(id), asio::detached);
    if (item.complete) continue;
    auto d = std::make_shared<download>(id, settings_.download);
    d->output = item.path;
    downloads_.emplace(id, d);
    start_requests(*d, item.manifest);
    if (item.torrent)
      start_trackers(id, item.bt->of(*item.torrent).hashes.wire_id(), item.bt->trackers);
    asio::co_spawn(io_, finish(d), asio::detached);  // every chunk may be on disk already
  }
  for (const auto& [id, u] : store_.unavailable()) {
    auto d = std::make_shared<download>(id, settings_.download);
    d->name = u.first.manifest.name;
    d->size = u.first.manifest.size;
    d->output = u.first.path;
    downloads_.emplace(id, d);
    fail(*d, "cannot resume: " + u.second);
  }
  for (auto& [id, f] : folders_)
    run_folder_files(f);
  uploader_.start();
  bt_.start();
  asio::co_spawn(io_, maintenance_loop(), asio::detached);
}

void swarm::stop() {
  running_ = false;
  tick_.cancel();
  uploader_.stop();
  bt_.stop();
  for (auto& [id, t] : trackers_)
    t->stop();
  wake_end_waiters();
}

asio::awaitable<void> swarm::wait_for_end(content_id id, duration at_most) {
  id = current_id(id);
  const auto d = downloads_.find(id);
  const auto f = folders_.find(id);
  const bool folder_active = f != folders_.end() && f->second.active();
  if (!running_ || ((d == downloads_.end() || !d->second->active()) && !folder_active)) co_return;
  asio::steady_timer timer(io_, at_most);
  // Registered for exactly as long as this frame lives, however it ends.
  struct registration {
    std::set<asio::steady_timer*>& waiters;
    asio::steady_timer* timer;
    ~registration() { waiters.erase(timer); }
  };
  end_waiters_.insert(&timer);
  const registration registered{end_waiters_, &timer};
  std::error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

void swarm::wake_end_waiters() {
  for (auto* waiter : end_waiters_)
    waiter->cancel();
}

bool swarm::is_banned(const node_id& id) const {
  const auto it = banned_until_.find(id);
  return it != banned_until_.end() && it->second > clock::now();
}

// ---------------------------------------------------------------- peers ---

void swarm::on_connected(const std::shared_ptr<connection>& c) {
  peers_[c->serial()] = std::make_unique<peer>(c);
  uploader_.add_peer(c->serial(), c);
  c->send(protocol::get_catalog{});
  // It may be in the swarms of our torrents too (over BitTorrent, same port).
  for (const auto& [id, d] : downloads_) {
    const auto* item = store_.find(id);
    if (d->active() && item && item->torrent && c->advertised().port != 0)
      bt_.add_candidates(item->bt->of(*item->torrent).hashes.wire_id(), {c->advertised()});
  }
}

std::vector<protocol::endpoint> swarm::peer_addresses() const {
  std::vector<protocol::endpoint> out;
  for (const auto& [key, p] : peers_)
    if (p->conn->advertised().port != 0) out.push_back(p->conn->advertised());
  return out;
}

void swarm::on_disconnected(const std::shared_ptr<connection>& c) {
  const auto key = c->serial();
  if (!peers_.contains(key)) return;
  for (auto& [id, d] : downloads_)
    d->remove_source(key);
  uploader_.remove_peer(key);
  catalog_.erase(key);
  peers_.erase(key);
  fill_all();
}

void swarm::ban(peer& p, const std::string& why) {
  log_line(log_level::warn)
      << "banning " << p.label << " (" << protocol::to_hex(p.id).substr(0, 8) << ") for "
      << std::chrono::duration_cast<std::chrono::minutes>(settings_.ban_duration).count()
      << " min: " << why;
  banned_until_[p.id] = clock::now() + settings_.ban_duration;
  p.conn->close("banned: " + why);
}

// A source of chunks by its connection's serial, whichever protocol it speaks.
chunk_source* swarm::source(std::uint64_t key) {
  if (const auto p = peers_.find(key); p != peers_.end()) return p->second.get();
  return bt_.session(key);
}

void swarm::ban_source(std::uint64_t key, const std::string& why) {
  if (const auto p = peers_.find(key); p != peers_.end()) return ban(*p->second, why);
  if (auto* s = bt_.session(key)) bt_.ban(*s, why);
}

bool swarm::handle(const std::shared_ptr<connection>& c, protocol::message& m) {
  const auto it = peers_.find(c->serial());
  if (it == peers_.end()) return true;
  peer& p = *it->second;
  return std::visit(
      [&](auto& body) -> bool {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, protocol::get_catalog>) {
          c->send(own_catalog());
        } else if constexpr (std::is_same_v<T, protocol::catalog>) {
          on_catalog(p, body);
        } else if constexpr (std::is_same_v<T, protocol::get_manifest>) {
          // A torrent's download has no peerlab manifest: it is not offered.
          const auto* item = store_.find(body.id);
          c->send(protocol::manifest_data{
              body.id, item ? (item->torrent ? std::vector<std::uint8_t>{}
                                             : protocol::encode_manifest(item->manifest))
                            : folder_manifest_bytes(body.id)});
        } else if constexpr (std::is_same_v<T, protocol::manifest_data>) {
          on_manifest(p, body);
        } else if constexpr (std::is_same_v<T, protocol::get_chunk_map>) {
          const auto* found = store_.find(body.id);
          const auto* item =
              found && !found->torrent ? found : nullptr;  // torrents: BitTorrent only
          if (item) p.subscribed.insert(body.id);
          c->send(protocol::chunk_map{body.id,
                                      item ? item->have.to_bits() : std::vector<std::uint8_t>{}});
        } else if constexpr (std::is_same_v<T, protocol::chunk_map>) {
          return on_chunk_map(p, body);
        } else if constexpr (std::is_same_v<T, protocol::have>) {
          return on_have(p, body);
        } else if constexpr (std::is_same_v<T, protocol::request>) {
          return uploader_.on_request(p.key(), body);
        } else if constexpr (std::is_same_v<T, protocol::chunk>) {
          asio::co_spawn(io_, receive_chunk(p.key(), std::move(body)), asio::detached);
        } else if constexpr (std::is_same_v<T, protocol::reject>) {
          on_reject(p, body);
        } else if constexpr (std::is_same_v<T, protocol::cancel>) {
          uploader_.on_cancel(p.key(), protocol::request{body.id, body.index});
        }
        return true;
      },
      m);
}

// ------------------------------------------------------------- catalogs ---

void swarm::broadcast_catalog() {
  const auto own = own_catalog();
  for (auto& [key, p] : peers_)
    p->conn->send(own);
}

void swarm::on_catalog(peer& p, const protocol::catalog& m) {
  catalog_.set(p.key(), m.entries);
  for (const auto& entry : m.entries) {
    const auto it = downloads_.find(entry.id);
    if (it == downloads_.end()) continue;
    auto& d = *it->second;
    if (d.state() == download_state::manifest && !d.manifest_from) ask_manifest(d);
    if (d.state() == download_state::downloading) ask_chunk_maps(d);
  }
  on_folder_catalog(m);
}

}  // namespace peerlab::peer

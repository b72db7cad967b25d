#include "peer/bt_seeder.hpp"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <random>

#include "peer/bt_session.hpp"
#include "peer/log.hpp"
#include "protocol/hex.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

bt_seeder::bt_seeder(asio::io_context& io, store& storage, uploader& up, bt_settings settings)
    : io_(io),
      store_(storage),
      uploader_(up),
      settings_(settings),
      choker_(settings.unchoke_slots),
      rotate_timer_(io) {
  // Azureus-style peer id: client and version, then random characters.
  const std::string_view prefix = "-PL0001-";
  std::copy(prefix.begin(), prefix.end(), own_id_.begin());
  std::random_device random;
  const std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (std::size_t i = prefix.size(); i < own_id_.size(); ++i)
    own_id_[i] = static_cast<std::uint8_t>(alphabet[random() % alphabet.size()]);
}

bt_seeder::~bt_seeder() = default;

void bt_seeder::start() {
  running_ = true;
  asio::co_spawn(io_, rotate_loop(), asio::detached);
}

void bt_seeder::stop() {
  running_ = false;
  candidates_.clear();
  rotate_timer_.cancel();
  for (auto [key, s] : std::map(sessions_))
    s->conn()->close("node stopping");
}

asio::awaitable<void> bt_seeder::serve(std::shared_ptr<connection> c) {
  if (is_banned(c->remote())) {
    c->close("banned");
    co_return;
  }
  auto running = run_session(c, std::nullopt);
  co_await std::move(running);
}

asio::awaitable<void> bt_seeder::run_session(std::shared_ptr<connection> c,
                                             std::optional<bt::sha1_digest> dialed_for) {
  if (!running_ || sessions_.size() >= settings_.max_peers) {
    c->close("too many BitTorrent peers");
    co_return;
  }
  const auto key = c->serial();
  bt_session session(*this, c, dialed_for);
  sessions_[key] = &session;
  auto running = session.run();
  co_await std::move(running);
  c->close("BitTorrent session ended");
  session.leave();
  sessions_.erase(key);
  // A fetch of a magnet's metadata that ended unfinished: another session's turn.
  if (session.fetching_metadata() && wants_metadata(session.wire_id())) {
    for (auto& [other_key, other] : sessions_)
      if (other->wire_id() == session.wire_id() && !other->asking_metadata() &&
          other->ask_metadata())
        break;
  }
  uploader_.remove_peer(key);
  apply(choker_.drop_interest(key));
}

void bt_seeder::apply(const bt_choker::changes& changes) {
  for (const auto key : changes.choke)
    if (const auto it = sessions_.find(key); it != sessions_.end()) it->second->set_choked(true);
  for (const auto key : changes.unchoke)
    if (const auto it = sessions_.find(key); it != sessions_.end()) it->second->set_choked(false);
}

// The choker's round robin every rotate_every; peer exchange every pex_every.
asio::awaitable<void> bt_seeder::rotate_loop() {
  using clock = std::chrono::steady_clock;
  auto next_rotation = clock::now() + settings_.rotate_every;
  auto next_pex = clock::now() + settings_.pex_every;
  while (running_) {
    rotate_timer_.expires_at(std::min(next_rotation, next_pex));
    std::error_code ec;
    co_await rotate_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!running_) break;
    const auto now = clock::now();
    if (now >= next_rotation) {
      apply(choker_.rotate());
      drop_idle(now);
      next_rotation = now + settings_.rotate_every;
    }
    if (now >= next_pex) {
      exchange_peers();
      next_pex = now + settings_.pex_every;
    }
  }
}

// A torrent whose dial slots are all taken while addresses wait: the peers
// we dialed that have given us nothing (choked us) and taken nothing for a
// while make room. Without this, 30 peers that keep us choked would keep
// the one that would not from ever being dialed.
void bt_seeder::drop_idle(std::chrono::steady_clock::time_point now) {
  for (auto& [wire_id, c] : candidates_) {
    if (c.waiting.empty() || c.dialed < settings_.max_dialed_per_torrent) continue;
    for (auto [key, s] : std::map(sessions_)) {
      if (s->wire_id() == wire_id && s->dialed() && s->idle(settings_.idle_peer_after, now)) {
        c.reached.erase(s->conn()->remote());
        s->conn()->close("gave and took nothing for a while; others wait to be tried");
      }
    }
  }
}

void bt_seeder::exchange_peers() {
  std::map<protocol::content_id, std::set<protocol::endpoint>> connected;
  for (const auto& [key, s] : sessions_)
    if (const auto at = s->listening(); s->ready() && at) connected[s->content()].insert(*at);
  for (auto& [key, s] : sessions_)
    if (s->ready()) s->send_pex(connected[s->content()]);
}

// ---------------------------------------------------------------- dialing ---

void bt_seeder::add_candidates(const bt::sha1_digest& wire_id,
                               const std::vector<protocol::endpoint>& peers) {
  auto& c = candidates_[wire_id];
  for (const auto& peer : peers) {
    if (c.waiting.size() >= settings_.max_candidates) break;
    if (c.known.insert(peer).second) c.waiting.push_back(peer);
  }
  dial_some();
}

void bt_seeder::forget_candidates(const bt::sha1_digest& wire_id) {
  const auto it = candidates_.find(wire_id);
  if (it == candidates_.end()) return;
  for (const auto& peer : it->second.waiting)
    it->second.known.erase(peer);
  it->second.waiting.clear();
  // Dials in flight finish on their own; the entry goes with the last one.
  if (it->second.dialed == 0) candidates_.erase(it);
}

void bt_seeder::dial_some() {
  if (!running_ || !dialer_) return;
  for (auto& [wire_id, c] : candidates_) {
    while (!c.waiting.empty() && half_open_ < settings_.max_half_open &&
           c.dialed < settings_.max_dialed_per_torrent &&
           sessions_.size() + half_open_ < settings_.max_peers) {
      const auto peer = c.waiting.front();
      c.waiting.pop_front();
      if (is_banned(peer)) {
        c.known.erase(peer);
        continue;
      }
      ++half_open_;
      ++c.dialed;
      asio::co_spawn(io_, dial(peer, wire_id), asio::detached);
    }
  }
}

asio::awaitable<void> bt_seeder::dial(protocol::endpoint peer, bt::sha1_digest wire_id) {
  auto dialing = dialer_(peer);
  auto c = co_await std::move(dialing);
  --half_open_;
  dial_some();  // a dial slot is free, whatever this one gave
  if (c && running_) {
    if (const auto it = candidates_.find(wire_id);
        it != candidates_.end() && it->second.reached.size() < settings_.max_candidates) {
      it->second.reached.insert(peer);
    }
    c->start();
    auto running = run_session(c, wire_id);
    co_await std::move(running);
  }
  if (const auto it = candidates_.find(wire_id); it != candidates_.end()) {
    --it->second.dialed;
    it->second.known.erase(peer);  // a tracker may hand it to us again
  }
  dial_some();
}

void bt_seeder::redial(const bt::sha1_digest& wire_id) {
  const auto it = candidates_.find(wire_id);
  if (it == candidates_.end()) return;
  const std::vector<protocol::endpoint> again(it->second.reached.begin(), it->second.reached.end());
  add_candidates(wire_id, again);
}

// ------------------------------------------------------------ downloading ---

void bt_seeder::on_our_piece(const protocol::content_id& id, std::uint32_t piece) {
  for (auto& [key, s] : sessions_)
    if (s->ready() && s->content() == id) s->on_our_piece(piece);
}

void bt_seeder::want_metadata(const bt::sha1_digest& wire_id) {
  metadata_wanted_.insert(wire_id);
}

bool bt_seeder::may_fetch_metadata(const bt::sha1_digest& wire_id) const {
  constexpr std::size_t max_fetchers = 2;
  return std::ranges::count_if(sessions_, [&](const auto& s) {
           return s.second->wire_id() == wire_id && s.second->asking_metadata();
         }) < static_cast<std::ptrdiff_t>(max_fetchers);
}

void bt_seeder::metadata_done(const bt::sha1_digest& wire_id) {
  metadata_wanted_.erase(wire_id);
  for (auto [key, s] : std::map(sessions_)) {
    if (s->fetching_metadata() && s->wire_id() == wire_id) {
      s->adopt();
      if (s->fetching_metadata()) s->conn()->close("the magnet's download was given up");
    }
  }
}

bt_session* bt_seeder::session(std::uint64_t key) {
  const auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : it->second;
}

void bt_seeder::ban(bt_session& s, const std::string& why) {
  if (banned_until_.size() >= 4096)
    std::erase_if(banned_until_,
                  [](const auto& b) { return b.second <= std::chrono::steady_clock::now(); });
  const auto address = protocol::ip_to_string(s.conn()->remote());
  banned_until_[address] = std::chrono::steady_clock::now() + settings_.ban_duration;
  log_line(log_level::warn) << "banned BitTorrent peer " << address << " ("
                            << protocol::to_string(s.conn()->remote()) << "): " << why;
  s.conn()->close("banned: " + why);
}

bool bt_seeder::is_banned(const protocol::endpoint& peer) {
  const auto it = banned_until_.find(protocol::ip_to_string(peer));
  if (it == banned_until_.end()) return false;
  if (it->second > std::chrono::steady_clock::now()) return true;
  banned_until_.erase(it);
  return false;
}

std::vector<bt_session*> bt_seeder::sessions_asking(const bt::sha1_digest& wire_id) const {
  std::vector<bt_session*> out;
  for (const auto& [key, s] : sessions_)
    if (s->fetching_metadata() && s->wire_id() == wire_id && s->conn()->is_open()) out.push_back(s);
  return out;
}

std::vector<bt_session*> bt_seeder::sessions_for(const protocol::content_id& id) const {
  std::vector<bt_session*> out;
  for (const auto& [key, s] : sessions_)
    if (s->ready() && s->content() == id) out.push_back(s);
  return out;
}

std::vector<bt_peer_info> bt_seeder::peers() const {
  std::vector<bt_peer_info> out;
  for (const auto& [key, s] : sessions_) {
    if (!s->ready()) continue;
    out.push_back({protocol::to_hex(s->peer_id()), s->client(), s->info()->name,
                   std::string(bt::to_string(s->format())), s->conn()});
  }
  return out;
}

}  // namespace peerlab::peer

// The schedule of announces to a torrent's trackers: one coroutine per
// tracker sleeps until its next announce, announces (HTTP or UDP, raced
// against a deadline) and files the answer. The state lives in a shared
// object that every coroutine holds, so destroying the client while an
// announce is on its way frees nothing a coroutine still uses; the client
// clears the callbacks when it goes, so none runs after that.

#include "peer/tracker_client.hpp"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <random>
#include <set>

#include "peer/local_addresses.hpp"
#include "peer/log.hpp"
#include "peer/tracker_announce.hpp"
#include "protocol/tracker_url.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;
namespace bt = protocol::bt;

namespace {

enum class tracker_state { waiting, announcing, ok, failed };

std::string to_string(tracker_state s) {
  switch (s) {
    case tracker_state::waiting:
      return "waiting";
    case tracker_state::announcing:
      return "announcing";
    case tracker_state::ok:
      return "ok";
    case tracker_state::failed:
      return "failed";
  }
  return "";
}

std::string seconds(clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

struct tracker_client::shared : std::enable_shared_from_this<tracker_client::shared> {
  struct tracker {
    explicit tracker(asio::io_context& io) : wake(io), deadline(io) {}
    std::string url;
    std::optional<bt::tracker_url> parsed;  // nullopt: never announced to
    tracker_state state = tracker_state::waiting;
    std::string error, warning;
    std::size_t peers = 0;
    std::optional<std::uint32_t> seeders, leechers;
    clock::time_point next_announce = clock::time_point::max();
    clock::time_point last_answer{};
    clock::duration interval{}, min_wait{};  // as the tracker asked, within our bounds
    clock::duration backoff{};
    bool started_sent = false;  // then `stopped` is owed
    bool started_ok = false;
    bool completed_pending = false;
    udp_connection udp;
    asio::steady_timer wake;      // the coroutine sleeps here until next_announce
    asio::steady_timer deadline;  // ends the announce on its way; stop() fires it
  };

  shared(asio::io_context& io_context, tracker_client_settings s) : io(io_context), settings(s) {
    // Zero would mean announcing in a loop.
    settings.min_backoff = std::max<clock::duration>(settings.min_backoff, 10ms);
    settings.max_backoff = std::max(settings.max_backoff, settings.min_backoff);
    settings.min_interval = std::max<clock::duration>(settings.min_interval, 10ms);
    settings.udp_attempts = std::clamp(settings.udp_attempts, 1, 16);
  }

  asio::io_context& io;
  tracker_client_settings settings;
  bt::sha1_digest info_hash{};
  bt::peer_id own_id{};
  std::uint16_t port = 0;
  numbers_source numbers;
  peers_handler on_peers;
  std::string key;  // BEP 7's key: who we are across address changes
  std::mt19937 random{std::random_device{}()};
  std::vector<std::unique_ptr<tracker>> trackers;
  bool started = false, stopped = false, completed_called = false;

  bt::announce_request request(bt::announce_event event) const {
    bt::announce_request r;
    r.info_hash = info_hash;
    r.peer = own_id;
    r.port = port;
    if (numbers) {
      const auto n = numbers();
      r.uploaded = n.uploaded;
      r.downloaded = n.downloaded;
      r.left = n.left;
    }
    r.event = event;
    r.compact = true;
    r.no_peer_id = true;
    r.numwant = settings.numwant;
    r.key = key;
    return r;
  }

  void wake(tracker& t, clock::time_point when) {
    if (when >= t.next_announce) return;
    t.next_announce = when;
    t.wake.cancel();
  }

  // One announce, given up after `limit` (or when stop() fires the deadline).
  asio::awaitable<announce_outcome> announce(tracker& t, bt::announce_request r,
                                             asio::steady_timer& deadline, clock::duration limit) {
    using namespace asio::experimental::awaitable_operators;
    deadline.expires_after(limit);
    auto op =
        t.parsed->scheme == bt::tracker_scheme::udp
            ? udp_announce(*t.parsed, r, t.udp, {settings.udp_first_timeout, settings.udp_attempts},
                           random, settings.source_address)
            : http_announce(*t.parsed, bt::make_announce_query(r), settings.source_address);
    std::error_code ec;
    // Built apart from the co_await: GCC 12 mishandles temporaries there.
    auto racing = std::move(op) || deadline.async_wait(redirect_error(use_awaitable, ec));
    auto winner = co_await std::move(racing);
    if (winner.index() == 0) co_return std::get<0>(std::move(winner));
    announce_outcome out;
    out.error = stopped ? "stopped" : "no answer within " + seconds(limit);
    co_return out;
  }

  clock::duration deadline_for(const tracker& t) const {
    if (t.parsed->scheme != bt::tracker_scheme::udp) return settings.request_timeout;
    // Room for every wait of both questions, the last one doubled 2^(n-1) times.
    return 2 * settings.udp_first_timeout * ((1 << settings.udp_attempts) - 1) +
           std::chrono::seconds(1);
  }

  asio::awaitable<void> run(tracker& t) {
    auto self = shared_from_this();
    while (!stopped) {
      while (!stopped && clock::now() < t.next_announce) {
        t.wake.expires_at(t.next_announce);
        std::error_code ec;
        co_await t.wake.async_wait(redirect_error(use_awaitable, ec));
      }
      if (stopped) break;
      const auto event = !t.started_ok         ? bt::announce_event::started
                         : t.completed_pending ? bt::announce_event::completed
                                               : bt::announce_event::none;
      if (event == bt::announce_event::started) t.started_sent = true;
      t.state = tracker_state::announcing;
      t.next_announce = clock::time_point::max();
      auto op = announce(t, request(event), t.deadline, deadline_for(t));
      auto outcome = co_await std::move(op);
      if (stopped) break;
      file(t, event, std::move(outcome));
    }
  }

  // What one answer means for the schedule; its peers go to the owner last,
  // since the owner may call back into (or destroy) the client.
  void file(tracker& t, bt::announce_event event, announce_outcome outcome) {
    const auto now = clock::now();
    const auto& r = outcome.response;
    if (!outcome.error.empty() || !r.failure_reason.empty()) {
      t.state = tracker_state::failed;
      t.error = !outcome.error.empty() ? outcome.error : "tracker: " + r.failure_reason;
      t.next_announce = now + t.backoff;
      log_line(log_level::debug) << "tracker " << t.url << ": " << t.error << "; again in "
                                 << seconds(t.backoff);
      t.backoff = std::min(2 * t.backoff, settings.max_backoff);
      return;
    }
    t.state = tracker_state::ok;
    t.error.clear();
    t.warning = r.warning_message;
    t.seeders = r.complete;
    t.leechers = r.incomplete;
    t.backoff = settings.min_backoff;
    t.last_answer = now;
    if (event == bt::announce_event::started) t.started_ok = true;
    if (event == bt::announce_event::completed) t.completed_pending = false;
    t.interval =
        std::clamp<clock::duration>(std::chrono::seconds(r.interval), settings.min_interval,
                                    std::max(settings.min_interval, settings.max_interval));
    t.min_wait = std::max<clock::duration>(settings.min_interval,
                                           std::chrono::seconds(r.min_interval.value_or(0)));
    t.min_wait = std::min(t.min_wait, t.interval);
    // `completed` waiting behind `started` goes at once.
    t.next_announce = t.completed_pending ? now : now + t.interval;

    std::vector<protocol::endpoint> peers;
    std::set<protocol::endpoint> seen;
    for (const auto& p : r.peers) {
      if (!protocol::is_dialable(p.address, false) || is_self(p.address)) continue;
      if (seen.insert(p.address).second) peers.push_back(p.address);
    }
    t.peers = peers.size();
    log_line(log_level::debug) << "tracker " << t.url << ": " << peers.size() << " peers, again in "
                               << seconds(t.interval);
    if (peers.empty() || !on_peers) return;
    auto handler = on_peers;  // a copy: the handler may destroy the client, and with it on_peers
    handler(std::move(peers));
  }

  bool is_self(const protocol::endpoint& e) const {
    if (!settings.own_addresses.empty()) {
      return std::find(settings.own_addresses.begin(), settings.own_addresses.end(), e) !=
             settings.own_addresses.end();
    }
    if (e.port != port) return false;
    return std::any_of(own_ips.begin(), own_ips.end(), [&](const protocol::endpoint& ip) {
      return ip.family == e.family && ip.ip == e.ip;
    });
  }

  // `stopped`, best effort: the answer does not matter, only that it went.
  asio::awaitable<void> send_stopped(tracker& t, bt::announce_request r) {
    auto self = shared_from_this();
    asio::steady_timer deadline(io);
    auto op = announce(t, std::move(r), deadline, settings.stop_timeout);
    const auto outcome = co_await std::move(op);
    log_line(log_level::debug) << "tracker " << t.url << ": stopped"
                               << (outcome.error.empty() ? "" : " (" + outcome.error + ")");
  }

  std::vector<protocol::endpoint> own_ips;  // this machine's, when own_addresses is empty
};

tracker_client::tracker_client(asio::io_context& io, std::vector<std::string> urls,
                               bt::sha1_digest info_hash, bt::peer_id own_id, std::uint16_t port,
                               numbers_source numbers, peers_handler on_peers,
                               tracker_client_settings s)
    : state_(std::make_shared<shared>(io, std::move(s))) {
  auto& st = *state_;
  st.info_hash = info_hash;
  st.own_id = own_id;
  st.port = port;
  st.numbers = std::move(numbers);
  st.on_peers = std::move(on_peers);
  char key[9];
  std::snprintf(key, sizeof key, "%08x", static_cast<unsigned>(st.random()));
  st.key = key;
  if (st.settings.own_addresses.empty()) {
    for (const auto& a : local_addresses())
      st.own_ips.push_back(a.ip);
  }
  for (auto& url : urls) {
    if (st.trackers.size() >= st.settings.max_trackers) break;
    const bool repeated = std::any_of(st.trackers.begin(), st.trackers.end(),
                                      [&](const auto& t) { return t->url == url; });
    if (repeated) continue;
    auto t = std::make_unique<shared::tracker>(io);
    t->url = std::move(url);
    t->backoff = st.settings.min_backoff;
    auto parsed = bt::parse_tracker_url(t->url);
    if (!parsed) {
      t->state = tracker_state::failed;
      t->error = parsed.error_message();
    } else if (parsed->scheme == bt::tracker_scheme::https) {
      t->state = tracker_state::failed;
      t->error = "https trackers are not supported";
    } else {
      t->parsed = std::move(*parsed);
    }
    st.trackers.push_back(std::move(t));
  }
}

tracker_client::~tracker_client() {
  stop();
  state_->numbers = nullptr;
  state_->on_peers = nullptr;
}

void tracker_client::start() {
  auto& st = *state_;
  if (st.started || st.stopped) return;
  st.started = true;
  for (auto& t : st.trackers) {
    if (!t->parsed) continue;
    t->next_announce = clock::now();
    asio::co_spawn(st.io, st.run(*t), asio::detached);
  }
}

void tracker_client::completed() {
  auto& st = *state_;
  if (st.completed_called || st.stopped) return;
  st.completed_called = true;
  for (auto& t : st.trackers) {
    if (!t->parsed) continue;
    t->completed_pending = true;
    if (st.started && t->started_ok && t->state != tracker_state::announcing)
      st.wake(*t, clock::now());
  }
}

void tracker_client::stop() {
  auto& st = *state_;
  if (st.stopped) return;
  st.stopped = true;
  const auto request = st.request(bt::announce_event::stopped);
  for (auto& t : st.trackers) {
    t->wake.cancel();
    // An announce on its way ends now (expires_at also cancels its wait).
    t->deadline.expires_at(clock::time_point::min());
    t->next_announce = clock::time_point::max();
    if (t->parsed && t->started_sent)
      asio::co_spawn(st.io, st.send_stopped(*t, request), asio::detached);
  }
}

void tracker_client::announce_now() {
  auto& st = *state_;
  if (!st.started || st.stopped) return;
  const auto now = clock::now();
  for (auto& t : st.trackers) {
    if (t->parsed && t->state == tracker_state::ok)
      st.wake(*t, std::max(now, t->last_answer + t->min_wait));
  }
}

std::vector<tracker_status> tracker_client::status() const {
  std::vector<tracker_status> out;
  for (const auto& t : state_->trackers) {
    tracker_status s;
    s.url = t->url;
    s.state = to_string(t->state);
    s.error = t->error;
    s.warning = t->warning;
    s.peers = t->peers;
    s.seeders = t->seeders;
    s.leechers = t->leechers;
    s.next_announce = t->next_announce;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace peerlab::peer

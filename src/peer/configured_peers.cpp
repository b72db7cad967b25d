#include "peer/configured_peers.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "peer/asio_endpoint.hpp"
#include "peer/log.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;

namespace {

// "teacher:7070 (10.0.0.5)" for a name, "10.0.0.5:7070" for a literal.
std::string describe(const std::string& peer, const protocol::endpoint& address) {
  return protocol::to_string(address) == peer ? peer
                                              : peer + " (" + protocol::ip_to_string(address) + ")";
}

}  // namespace

std::string loopback_listen_problem(const protocol::endpoint& listen, const std::string& peer,
                                    const protocol::endpoint& address) {
  return "--listen " + protocol::to_string(listen) +
         " is a loopback address, so this node cannot reach --peer " + describe(peer, address) +
         " on another machine; leave out --listen to listen on every interface, or give this "
         "machine's LAN address";
}

configured_peers::configured_peers(asio::io_context& io, peer_table& table,
                                   std::function<void()> wake)
    : io_(io), table_(table), wake_(std::move(wake)) {}

void configured_peers::start(const node_settings& settings, const protocol::endpoint& listen) {
  listen_ = listen;
  re_resolve_interval_ = settings.re_resolve_interval;
  max_resolve_backoff_ = settings.max_resolve_backoff;
  running_ = true;
  for (const auto& address : settings.bootstrap_peers) {
    if (address == listen_) continue;
    auto e = std::make_unique<entry>();
    e->spec = {protocol::ip_to_string(address), address.port, true, address};
    e->addresses.insert(address);
    table_.add(address, peer_table::origin::configured, clock::now());
    entries_.push_back(std::move(e));
  }
  for (const auto& spec : settings.bootstrap_hosts) {
    auto e = std::make_unique<entry>();
    e->spec = spec;
    e->resolver = std::make_unique<asio::ip::tcp::resolver>(io_);
    e->timer = std::make_unique<asio::steady_timer>(io_);
    asio::co_spawn(io_, resolve_loop(*e), asio::detached);
    entries_.push_back(std::move(e));
  }
}

void configured_peers::stop() {
  running_ = false;
  for (auto& e : entries_) {
    if (e->resolver) e->resolver->cancel();
    if (e->timer) e->timer->cancel();
  }
}

bool configured_peers::usable(const protocol::endpoint& address) const {
  if (!protocol::is_dialable(address, false) || address == listen_) return false;
  if (protocol::is_loopback(listen_)) return protocol::is_loopback(address);
  // A specific listening address is also where we dial from: same family only.
  return protocol::is_unspecified(listen_) ? listen_.family == protocol::ip_family::v6 ||
                                                 address.family == protocol::ip_family::v4
                                           : address.family == listen_.family;
}

void configured_peers::apply(entry& e, const std::set<protocol::endpoint>& found) {
  std::set<protocol::endpoint> kept;
  for (const auto& address : found) {
    if (usable(address)) {
      kept.insert(address);
    } else if (protocol::is_loopback(listen_) && !protocol::is_loopback(address) && !e.reported) {
      log_line(log_level::warn) << loopback_listen_problem(listen_, to_string(e.spec), address);
      e.reported = true;
    }
  }
  // Addresses the name no longer has: dialed no more (unless connected now).
  for (const auto& old : e.addresses) {
    if (!kept.contains(old)) table_.forget(old);
  }
  for (const auto& address : kept) {
    if (table_.add(address, peer_table::origin::configured, clock::now())) {
      log_line(log_level::debug) << "--peer " << to_string(e.spec) << " is "
                                 << protocol::to_string(address);
    }
  }
  e.addresses = std::move(kept);
  wake_();
}

asio::awaitable<void> configured_peers::resolve_loop(entry& e) {
  auto backoff = std::chrono::duration_cast<duration>(std::chrono::seconds(1));
  while (running_) {
    std::error_code ec;
    const auto results = co_await e.resolver->async_resolve(
        e.spec.host, std::to_string(e.spec.port), redirect_error(use_awaitable, ec));
    if (!running_) co_return;
    if (ec) {
      if (!e.resolve_reported) {
        log_line(log_level::warn) << "cannot resolve --peer " << to_string(e.spec) << " ("
                                  << ec.message()
                                  << "); check the name, or give the peer's IP address instead "
                                     "(--peer IP:PORT); still trying";
        e.resolve_reported = true;
      }
      e.timer->expires_after(backoff);
      backoff = std::min(2 * backoff, max_resolve_backoff_);
    } else {
      std::set<protocol::endpoint> found;
      for (const auto& r : results)
        found.insert(from_asio(r.endpoint()));
      e.resolved_at = clock::now();
      e.resolve_reported = false;
      backoff = std::chrono::seconds(1);
      apply(e, found);
      // Looked up again only when a dial fails (dial_failed wakes us).
      e.timer->expires_at(clock::time_point::max());
    }
    co_await e.timer->async_wait(redirect_error(use_awaitable, ec));
    // Woken by a failed dial, or the backoff is over: looked up again, but
    // not more often than re_resolve_interval.
    while (running_ && e.resolved_at + re_resolve_interval_ > clock::now()) {
      e.timer->expires_at(e.resolved_at + re_resolve_interval_);
      co_await e.timer->async_wait(redirect_error(use_awaitable, ec));
    }
  }
}

configured_peers::entry* configured_peers::owner_of(const protocol::endpoint& address) {
  for (auto& e : entries_) {
    if (e->addresses.contains(address)) return e.get();
  }
  return nullptr;
}

void configured_peers::dial_failed(const protocol::endpoint& address, const std::string& reason) {
  auto* e = owner_of(address);
  if (!e || !running_) return;
  if (!e->reported) {
    log_line(log_level::warn) << "cannot reach --peer " << to_string(e->spec) << " ("
                              << protocol::to_string(address) << ": " << reason
                              << "); is a peerlab node running there, with TCP port "
                              << address.port << " open in its firewall? Still trying";
    e->reported = true;
  }
  if (e->timer) e->timer->cancel();  // the name may point elsewhere now
}

void configured_peers::connected(const protocol::endpoint& address) {
  auto* e = owner_of(address);
  if (!e) return;
  if (e->reported) {
    log_line(log_level::info) << "reached --peer " << to_string(e->spec) << " at "
                              << protocol::to_string(address);
  }
  e->reported = false;
}

void configured_peers::found_self(const protocol::endpoint& address) {
  if (auto* e = owner_of(address)) {
    log_line(log_level::info) << "--peer " << describe(to_string(e->spec), address)
                              << " is this node itself; it is not dialed again";
  }
}

}  // namespace peerlab::peer

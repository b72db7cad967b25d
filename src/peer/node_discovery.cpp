// How a node finds peers besides --peer: peer exchange (get_peers rounds and
// the answers to them) and LAN beacons. Part of class node (node.hpp); the
// sessions and the dialer live in node.cpp.

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <iterator>

#include "peer/log.hpp"
#include "peer/node.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;

void node::start_lan_discovery() {
  // Beacons say "dial the address this came from": only true for a node that
  // listens on every interface or on one IPv4 address that is not loopback.
  const bool reachable =
      protocol::is_unspecified(listen_) ||
      (listen_.family == protocol::ip_family::v4 && !protocol::is_loopback(listen_));
  if (!settings_.lan.enabled || !reachable) return;
  if (auto started = beacon_.start(id_, listen_, [this](const auto& a) { heard_beacon(a); });
      !started) {
    log_line(log_level::warn) << started.error_message() << "; LAN discovery is off";
    return;
  }
  beacon_on_ = true;
}

void node::heard_beacon(const protocol::endpoint& address) {
  if (!running_ || !protocol::is_dialable(address, false) || address == listen_) return;
  if (table_.add(address, peer_table::origin::learned, clock::now())) {
    log_line(log_level::info) << "LAN discovery: a node at " << protocol::to_string(address);
    wake_dialer();
  }
}

asio::awaitable<void> node::peer_exchange_loop() {
  auto interval = settings_.peer_exchange_interval;
  while (running_) {
    exchange_timer_.expires_after(interval);
    std::error_code ec;
    co_await exchange_timer_.async_wait(redirect_error(use_awaitable, ec));
    if (!running_) break;
    // A round that taught us no new address makes the next one wait twice as
    // long: a settled swarm falls quiet, and anything new brings it back.
    interval = learned_ ? settings_.peer_exchange_interval
                        : std::min(2 * interval, settings_.peer_exchange_max_interval);
    learned_ = false;
    // A few peers picked at random are enough (gossip): what one of them
    // learns reaches us in a later round, through it or through others.
    std::vector<std::pair<protocol::node_id, std::shared_ptr<connection>>> asked;
    std::sample(established_.begin(), established_.end(), std::back_inserter(asked),
                settings_.peer_exchange_fanout, rng_);
    for (const auto& [id, c] : asked)
      ask_peers(c);
  }
}

void node::ask_peers(const std::shared_ptr<connection>& c) {
  if (peers_asked_.insert(c).second) c->send(protocol::get_peers{});
}

protocol::peers node::peers_for(const connection& asker) const {
  protocol::peers reply;
  const bool loopback_only = protocol::is_loopback(listen_);
  for (const auto& [id, c] : established_) {
    if (reply.addresses.size() >= protocol::max_peers_per_message) break;
    if (c.get() == &asker || !protocol::is_dialable(c->advertised(), loopback_only)) continue;
    // Our loopback neighbours mean nothing to a peer on another machine.
    if (!protocol::is_meaningful_to(c->advertised(), asker.remote())) continue;
    reply.addresses.push_back(c->advertised());
  }
  return reply;
}

void node::learn(const connection& from, const protocol::peers& m) {
  const bool loopback_only = protocol::is_loopback(listen_);
  for (const auto& address : m.addresses) {
    if (address == listen_ || !protocol::is_dialable(address, loopback_only)) continue;
    // A loopback address from another machine is that machine's, not ours.
    if (!protocol::is_meaningful_to(address, from.remote())) continue;
    if (table_.add(address, peer_table::origin::learned, clock::now())) {
      log_line(log_level::debug) << "learned of peer " << protocol::to_string(address);
      learned_ = true;
      wake_dialer();
    }
  }
}

}  // namespace peerlab::peer

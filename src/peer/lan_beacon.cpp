#include "peer/lan_beacon.hpp"

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/multicast.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <string>

#include "peer/asio_endpoint.hpp"
#include "peer/local_addresses.hpp"
#include "peer/log.hpp"
#include "protocol/beacon.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::udp;
using clock = std::chrono::steady_clock;

namespace {

asio::ip::address_v4 v4_of(const protocol::endpoint& e) {
  return to_asio(e).address().to_v4();
}

}  // namespace

lan_beacon::lan_beacon(asio::io_context& io, lan_discovery_settings settings)
    : io_(io), settings_(settings), socket_(io), timer_(io) {}

protocol::result<std::monostate> lan_beacon::start(const protocol::node_id& id,
                                                   const protocol::endpoint& listen,
                                                   found_handler found) {
  id_ = id;
  listen_ = listen;
  found_ = std::move(found);
  const auto group = to_asio(settings_.group);
  std::error_code ec;
  socket_.open(udp::v4(), ec);
  // Several nodes on one machine may all listen for beacons: each gets a copy.
  if (!ec) socket_.set_option(udp::socket::reuse_address(true), ec);
  // Bound to the group's address, the socket receives only the group's datagrams.
  if (!ec) socket_.bind(udp::endpoint(group.address(), group.port()), ec);
  if (!ec) socket_.set_option(asio::ip::multicast::hops(1), ec);  // TTL 1: this link only
  if (!ec) socket_.set_option(asio::ip::multicast::enable_loopback(true), ec);
  if (ec) {
    socket_.close(ec);
    return protocol::error{"cannot open the LAN discovery socket on " +
                           protocol::to_string(settings_.group) + ": " + ec.message()};
  }
  running_ = true;
  refresh_interfaces();
  log_line(log_level::info) << "LAN discovery: beacons on " << protocol::to_string(settings_.group)
                            << " (--no-discovery turns them off)";
  asio::co_spawn(io_, receive_loop(), asio::detached);
  asio::co_spawn(io_, announce_loop(), asio::detached);
  return std::monostate{};
}

void lan_beacon::stop() {
  if (!running_) return;
  running_ = false;
  std::error_code ignored;
  timer_.cancel();
  socket_.close(ignored);
}

std::vector<asio::ip::address_v4> lan_beacon::refresh_interfaces() {
  std::vector<asio::ip::address_v4> out;
  const bool pinned = !protocol::is_unspecified(listen_);
  for (const auto& a : local_addresses()) {
    if (!a.multicast || a.ip.family != protocol::ip_family::v4) continue;
    if (pinned && a.ip.ip != listen_.ip) continue;  // --listen 10.0.0.5: that interface only
    const auto address = v4_of(a.ip);
    if (!joined_.contains(address)) {
      std::error_code ec;
      socket_.set_option(
          asio::ip::multicast::join_group(to_asio(settings_.group).address().to_v4(), address), ec);
      if (ec && ec != asio::error::address_in_use) {
        log_line(log_level::debug)
            << "LAN discovery: cannot join the group on " << a.interface << ": " << ec.message();
        continue;
      }
      joined_.insert(address);
    }
    out.push_back(address);
  }
  return out;
}

asio::awaitable<void> lan_beacon::announce_loop() {
  const auto text = protocol::encode_beacon({id_, listen_.port});
  const auto tcp_group = to_asio(settings_.group);
  const udp::endpoint group(tcp_group.address(), tcp_group.port());
  auto interval = settings_.first_interval;
  while (running_) {
    // Interfaces come and go (a laptop joins Wi-Fi): look again each round.
    for (const auto& address : refresh_interfaces()) {
      std::error_code ec;
      socket_.set_option(asio::ip::multicast::outbound_interface(address), ec);
      if (!ec)
        co_await socket_.async_send_to(asio::buffer(text), group,
                                       redirect_error(use_awaitable, ec));
      if (!running_) co_return;
      if (ec) {
        log_line(log_level::debug)
            << "LAN discovery: beacon from " << address.to_string() << " failed: " << ec.message();
      }
    }
    timer_.expires_after(interval);
    interval = std::min(2 * interval, settings_.max_interval);
    std::error_code ec;
    co_await timer_.async_wait(redirect_error(use_awaitable, ec));
  }
}

bool lan_beacon::within_rate() {
  const auto now = clock::now();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    window_count_ = 0;
  }
  return ++window_count_ <= settings_.max_received_per_second;
}

asio::awaitable<void> lan_beacon::receive_loop() {
  // One byte more than a beacon may have: a longer datagram shows as too long.
  std::array<char, protocol::max_beacon_bytes + 1> buffer;
  while (running_) {
    udp::endpoint from;
    std::error_code ec;
    const auto n = co_await socket_.async_receive_from(asio::buffer(buffer), from,
                                                       redirect_error(use_awaitable, ec));
    if (!running_) co_return;
    if (ec) {
      // E.g. an ICMP error reported on the socket: breathe, so that an error
      // that persists cannot spin the network thread.
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    if (!within_rate()) continue;
    const auto parsed = protocol::parse_beacon(std::string_view(buffer.data(), n));
    auto sender = from_asio(asio::ip::tcp::endpoint(from.address(), from.port()));
    if (!parsed) {
      log_line(log_level::debug) << "LAN discovery: ignored a datagram from "
                                 << protocol::ip_to_string(sender) << ": "
                                 << parsed.error_message();
      continue;
    }
    if (parsed->id == id_) continue;  // our own, looped back
    sender.port = parsed->port;
    found_(sender);
  }
}

}  // namespace peerlab::peer

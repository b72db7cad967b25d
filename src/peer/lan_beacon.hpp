#pragma once
// LAN discovery: every few seconds (then every 30 s) the node multicasts a
// small beacon (protocol/beacon.hpp) on each of its interfaces, with a TTL
// of 1 so that it never leaves the local network, and listens for the
// beacons of others. A beacon heard means "a node listens on TCP port P of
// the address this datagram came from": the node then dials it like any
// address learned from a peer. Nodes on one LAN thus find each other with
// no --peer at all (as BitTorrent's Local Service Discovery does).

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <set>
#include <variant>

#include "peer/settings.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/messages.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

class lan_beacon {
 public:
  // Called with the TCP address of every node heard, ours excepted.
  using found_handler = std::function<void(const protocol::endpoint&)>;

  lan_beacon(asio::io_context& io, lan_discovery_settings settings);

  // Binds the group's UDP port and starts beaconing for a node listening on
  // `listen` (a specific IPv4 address: only its interface; unspecified:
  // every interface). Fails if the system refuses the socket.
  protocol::result<std::monostate> start(const protocol::node_id& id,
                                         const protocol::endpoint& listen, found_handler found);
  void stop();

 private:
  asio::awaitable<void> announce_loop();
  asio::awaitable<void> receive_loop();
  // The IPv4 addresses to beacon from; joins the group on new ones.
  std::vector<asio::ip::address_v4> refresh_interfaces();
  bool within_rate();  // counts one received datagram; false above the limit

  asio::io_context& io_;
  lan_discovery_settings settings_;
  asio::ip::udp::socket socket_;
  asio::steady_timer timer_;
  bool running_ = false;
  protocol::node_id id_{};
  protocol::endpoint listen_;
  found_handler found_;
  std::set<asio::ip::address_v4> joined_;
  std::chrono::steady_clock::time_point window_start_{};
  std::size_t window_count_ = 0;
};

}  // namespace peerlab::peer

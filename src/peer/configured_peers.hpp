#pragma once
// The peers given with --peer. An IP:PORT goes straight into the peer table;
// a NAME:PORT is looked up first (asio's resolver: getaddrinfo, off the
// network thread, so /etc/hosts, DNS and mDNS names all work) and looked up
// again when its addresses stop answering (a laptop got a new address).
// Configured addresses are retried forever (peer_table); a --peer that
// cannot be reached is reported once, at the default log level, in one
// sentence that says what to check.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "peer/peer_table.hpp"
#include "peer/settings.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::peer {

class configured_peers {
 public:
  // `wake` tells the dialer that new addresses are due.
  configured_peers(asio::io_context& io, peer_table& table, std::function<void()> wake);

  // Adds the literal addresses and starts looking up the names, for a node
  // listening on `listen` (its family and scope decide what it can dial).
  void start(const node_settings& settings, const protocol::endpoint& listen);
  void stop();

  // What the dialer saw of an address (any address: others are ignored).
  void dial_failed(const protocol::endpoint& address, const std::string& reason);
  void connected(const protocol::endpoint& address);
  // The address answered with our own id (it is never dialed again).
  void found_self(const protocol::endpoint& address);

 private:
  struct entry {
    protocol::host_port spec;
    std::set<protocol::endpoint> addresses;  // what it resolved to (a literal: itself)
    bool reported = false;                   // "cannot reach" said since the last success
    bool resolve_reported = false;           // "cannot resolve" said since the last success
    std::chrono::steady_clock::time_point resolved_at{};
    std::unique_ptr<asio::ip::tcp::resolver> resolver;
    std::unique_ptr<asio::steady_timer> timer;  // until the next lookup
  };

  asio::awaitable<void> resolve_loop(entry& e);
  void apply(entry& e, const std::set<protocol::endpoint>& found);
  bool usable(const protocol::endpoint& address) const;
  entry* owner_of(const protocol::endpoint& address);

  asio::io_context& io_;
  peer_table& table_;
  std::function<void()> wake_;
  duration re_resolve_interval_{};
  duration max_resolve_backoff_{};
  protocol::endpoint listen_;
  bool running_ = false;
  std::vector<std::unique_ptr<entry>> entries_;
};

// The sentence a node says when a loopback --listen meets a --peer on
// another machine: such a node could never connect.
std::string loopback_listen_problem(const protocol::endpoint& listen, const std::string& peer,
                                    const protocol::endpoint& address);

}  // namespace peerlab::peer

#pragma once
// The node: a passive socket that accepts peers and an active dialer that
// connects to them, both on one io_context. It runs the handshake, keeps at
// most one connection per peer, and spreads the word about who is out there
// (peer exchange), so a node told of one peer soon knows the whole swarm.
// Sessions and the dialer: node.cpp; discovery: node_discovery.cpp; what it
// reports to the API: node_status.cpp.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "peer/admission.hpp"
#include "peer/configured_peers.hpp"
#include "peer/connection.hpp"
#include "peer/lan_beacon.hpp"
#include "peer/memory_budget.hpp"
#include "peer/peer_table.hpp"
#include "peer/settings.hpp"
#include "peer/store.hpp"
#include "peer/swarm.hpp"
#include "peer/tracker_table.hpp"
#include "protocol/messages.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

// What the API and the CLI show about one established connection.
struct connection_info {
  std::string id;
  std::string name;
  protocol::endpoint address;  // where the peer listens
  direction dir;
  protocol::endpoint local;
  protocol::endpoint remote;
  std::uint64_t bytes_sent;
  std::uint64_t bytes_received;
  double connected_seconds;
  std::size_t queued_bytes;          // in our write queue, not yet given to the kernel
  socket_queues kernel;              // in the socket's kernel send and receive buffers
  std::string protocol = "peerlab";  // or "bittorrent"
  std::string client = "";           // BitTorrent: the client it says it is
  std::string torrent = "";          // BitTorrent: what it fetches
};

struct known_peer_info {
  protocol::endpoint address;
  std::string state;  // idle | dialing | connected | self
  bool configured;
  int failures;
};

struct node_status {
  std::string id;
  std::string name;
  protocol::endpoint listen;
  bool lan_discovery;  // beacons sent and heeded
  std::size_t connections;
  std::size_t handshakes;
  std::size_t known_peers;
  std::uint64_t bytes_sent;
  std::uint64_t bytes_received;
  double uptime_seconds;
};

class node {
 public:
  node(asio::io_context& io, node_settings settings, protocol::node_id id);

  // Loads the data directory's catalog, then socket → bind → listen, and
  // starts accepting, dialing, LAN discovery and resuming downloads. Fails
  // (e.g. address in use, or a loopback --listen with a --peer on another
  // machine) without starting anything.
  protocol::result<std::monostate> start();
  // Stops accepting, dialing and transferring, and closes every connection.
  void stop();

  const protocol::node_id& id() const { return id_; }
  const protocol::endpoint& listen_endpoint() const { return listen_; }
  bool lan_discovery() const { return beacon_on_; }

  node_status status() const;
  swarm& transfers() { return swarm_; }
  const swarm& transfers() const { return swarm_; }
  std::vector<connection_info> connections() const;
  std::vector<known_peer_info> known_peers() const;
  // The node-wide upload limit, which the HTTP server honours as well.
  rate_limiter& upload_limiter() { return up_limiter_; }
  // The node-wide budget for input being received, which the HTTP server's
  // request bodies share.
  memory_budget& input_budget() { return input_budget_; }
  const trace_log& trace() const { return trace_; }
  // The BitTorrent tracker that the HTTP server answers /announce from; it
  // lists this node as a seeder of every torrent it seeds.
  tracker_table& tracker() { return tracker_; }
  const tracker_table& tracker() const { return tracker_; }

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> dial_loop();
  void wake_dialer();  // something may have come due, or a slot freed
  asio::awaitable<void> dial(protocol::endpoint target);
  // Opens `socket` and connects it to `target` from our listening address,
  // within the dial timeout.
  asio::awaitable<std::error_code> connect(asio::ip::tcp::socket& socket, protocol::endpoint target,
                                           std::set<asio::ip::tcp::socket*>& in_flight);
  // A connection to a BitTorrent peer (nullptr if the dial failed).
  asio::awaitable<std::shared_ptr<connection>> dial_bittorrent(protocol::endpoint target);
  asio::awaitable<void> peer_exchange_loop();
  asio::awaitable<void> session(std::shared_ptr<connection> c);
  std::shared_ptr<connection> make_connection(asio::ip::tcp::socket socket, direction dir);

  // Validates a hello and registers the connection; false if it must close.
  bool admit(const std::shared_ptr<connection>& c, const protocol::hello& h);
  void forget(const std::shared_ptr<connection>& c);
  bool connected_to(const protocol::endpoint& address) const;
  // Handles one message of an established session; false to close it.
  bool handle(const std::shared_ptr<connection>& c, protocol::message& m);
  // Sends get_peers unless one is already unanswered on that connection.
  void ask_peers(const std::shared_ptr<connection>& c);
  protocol::peers peers_for(const connection& asker) const;
  void learn(const connection& from, const protocol::peers& m);
  void start_lan_discovery();
  void heard_beacon(const protocol::endpoint& address);

  asio::io_context& io_;
  node_settings settings_;
  protocol::node_id id_;
  protocol::endpoint listen_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer dial_timer_;
  asio::steady_timer exchange_timer_;
  bool running_ = false;
  bool learned_ = false;                      // a new address since the last peer-exchange round
  std::mt19937 rng_{std::random_device{}()};  // picks whom a round asks
  std::chrono::steady_clock::time_point started_at_;

  rate_limiter up_limiter_;
  rate_limiter down_limiter_;
  trace_log trace_;
  peer_table table_;
  store store_;
  swarm swarm_;
  configured_peers configured_;  // --peer, names looked up
  lan_beacon beacon_;
  bool beacon_on_ = false;
  std::set<std::shared_ptr<connection>> handshaking_;
  // Connections asked get_peers and not answered yet: only they may send
  // `peers` (anything else could inject addresses for us to dial).
  std::set<std::shared_ptr<connection>> peers_asked_;
  admission<std::shared_ptr<connection>> admission_;  // inbound ones before their hello
  memory_budget input_budget_;
  tracker_table tracker_;
  std::map<protocol::node_id, std::shared_ptr<connection>> established_;
  std::set<asio::ip::tcp::socket*> dialing_;     // connects in progress
  std::set<asio::ip::tcp::socket*> bt_dialing_;  // the same, to BitTorrent peers
  std::uint64_t closed_bytes_sent_ = 0;          // traffic of connections already gone
  std::uint64_t closed_bytes_received_ = 0;
};

}  // namespace peerlab::peer

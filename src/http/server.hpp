#pragma once
// The embedded HTTP/1.1 server, on the node's own io_context: one passive
// socket, one coroutine per client socket. Persistent connections serve
// request after request until the client closes or goes idle.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "http/request.hpp"
#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {
class rate_limiter;
class memory_budget;
}  // namespace peerlab::peer

namespace peerlab::http {

using namespace std::chrono_literals;

// Looks at a request's head before its body is read; a response to send
// instead (the connection is then closed, the body never read), or nullopt.
using head_screen = std::function<std::optional<response>(const request& head)>;

struct server_settings {
  std::chrono::steady_clock::duration idle_timeout = 30s;     // between requests
  std::chrono::steady_clock::duration request_timeout = 10s;  // first byte to full request
  std::chrono::steady_clock::duration write_timeout = 30s;
  std::size_t max_connections = 256;
  // Of those, how many file downloads (/files) may hold at once: the rest stay
  // for the dashboard, the API and the CLI, whatever /files suffers.
  std::size_t sockets_reserved_for_api = 64;
  // At the cap, a newcomer evicts an idle or reading client of the address
  // holding the most sockets (server.cpp): a per-address share that bites
  // only when the server is full, so a classroom behind one address is fine.
  std::size_t max_file_responses_per_ip = 64;
  // A file download must move at least this much per window of time spent
  // on its socket (nginx's send_timeout, plus a floor): a client reading a
  // few bytes at a time cannot hold a socket for ever.
  std::size_t min_send_bytes_per_second = 4096;
  std::chrono::steady_clock::duration send_rate_window = 10s;
  parser_limits limits;
  peer::rate_limiter* upload_limit = nullptr;   // file bodies share the node's upload limit
  peer::memory_budget* input_budget = nullptr;  // request bodies share the node's input budget
  head_screen screen;                           // e.g. the API token, checked before a body
};

// One client socket of the server, as the dashboard shows it: a web server
// holds one socket per client, and a client that sends `Connection: close`
// (non-persistent HTTP) costs it a new socket, and handshake, per request.
struct client_info {
  protocol::endpoint local;   // our end: the listening address, a new socket
  protocol::endpoint remote;  // the client's ephemeral port
  std::uint64_t requests = 0;
  std::uint64_t bytes_sent = 0;
  double connected_seconds = 0;
  std::string state;             // idle | reading | handling | writing | closed
  std::int64_t send_queue = -1;  // kernel buffers (SIOCOUTQ / SIOCINQ)
  std::int64_t receive_queue = -1;
};

struct server_stats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t requests_served = 0;
  std::uint64_t bytes_sent = 0;
};

// Handlers may wait (hashing a shared file takes a while) without blocking
// the event loop: they are coroutines.
using handler = std::function<asio::awaitable<response>(request)>;

class server {
 public:
  server(asio::io_context& io, server_settings settings, handler handle);

  // socket → bind → listen; fails without side effects (e.g. port in use).
  protocol::result<std::monostate> start(const protocol::endpoint& listen);
  void stop();
  const protocol::endpoint& local_endpoint() const { return local_; }

  std::vector<client_info> clients() const;
  // The last few connections that closed, newest first: short-lived sockets
  // (one per request without keep-alive) would otherwise never be seen.
  const std::deque<client_info>& recently_closed() const { return closed_; }
  const server_stats& stats() const { return stats_; }

 private:
  asio::awaitable<void> accept_loop();
  struct client;
  asio::awaitable<void> serve(std::shared_ptr<client> c);
  asio::awaitable<void> watch(std::shared_ptr<client> c);
  // Closes an idle or still-reading client to make room; false if none.
  bool evict_one();
  // Whether a file download may start for `c` now; if so it holds a place
  // until end_file_response.
  bool begin_file_response(const client& c);
  void end_file_response(const client& c);
  asio::awaitable<bool> send_file(client& c, const file_body& body);
  static client_info info_of(client& c);

  asio::io_context& io_;
  server_settings settings_;
  handler handle_;
  asio::ip::tcp::acceptor acceptor_;
  protocol::endpoint local_;
  bool running_ = false;
  std::set<std::shared_ptr<client>> clients_;
  std::size_t file_responses_ = 0;
  std::map<protocol::endpoint, std::size_t> file_responses_by_ip_;  // ports cleared
  std::deque<client_info> closed_;
  server_stats stats_;
};

}  // namespace peerlab::http

#pragma once
// The embedded HTTP/1.1 server, on the node's own io_context: one passive
// socket, one coroutine per client socket. Persistent connections serve
// request after request until the client closes or goes idle.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>

#include "http/request.hpp"
#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {
class rate_limiter;
}

namespace peerlab::http {

using namespace std::chrono_literals;

struct server_settings {
  std::chrono::steady_clock::duration idle_timeout = 30s;     // between requests
  std::chrono::steady_clock::duration request_timeout = 10s;  // first byte to full request
  std::chrono::steady_clock::duration write_timeout = 30s;
  std::size_t max_connections = 256;
  parser_limits limits;
  peer::rate_limiter* upload_limit = nullptr;  // file bodies share the node's upload limit
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

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> socket);
  asio::awaitable<bool> send_file(asio::ip::tcp::socket& socket, const file_body& body,
                                  asio::steady_timer& timer);

  asio::io_context& io_;
  server_settings settings_;
  handler handle_;
  asio::ip::tcp::acceptor acceptor_;
  protocol::endpoint local_;
  bool running_ = false;
  std::set<std::shared_ptr<asio::ip::tcp::socket>> clients_;
};

}  // namespace peerlab::http

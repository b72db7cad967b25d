#include "http/server.hpp"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <csignal>
#include <functional>
#include <tuple>

#include "peer/asio_endpoint.hpp"
#include "peer/log.hpp"
#include "peer/memory_budget.hpp"
#include "peer/rate_limiter.hpp"
#include "peer/send_file.hpp"
#include "peer/socket_queues.hpp"
#include "peer/store.hpp"

namespace peerlab::http {

using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

// One client socket. Its deadline is enforced by a watchdog coroutine that
// cancels whatever read or write is pending once the deadline passes: one
// timer per connection, rather than one race against a timer per operation.
struct server::client {
  explicit client(tcp::socket s) : socket(std::move(s)), watchdog(socket.get_executor()) {
    std::error_code ec;
    local = peer::from_asio(socket.local_endpoint(ec));
    remote = peer::from_asio(socket.remote_endpoint(ec));
  }
  tcp::socket socket;
  protocol::endpoint local;
  protocol::endpoint remote;
  clock::time_point since = clock::now();
  std::uint64_t requests = 0;
  std::uint64_t bytes_sent = 0;
  const char* state = "reading";
  clock::time_point state_since = clock::now();

  void enter(const char* next) {
    state = next;
    state_since = clock::now();
  }
  asio::steady_timer watchdog;
  clock::time_point deadline = clock::time_point::max();
  bool timed_out = false;

  // The next read or write must finish within `limit`.
  void expect_within(clock::duration limit) {
    const auto next = clock::now() + limit;
    const bool earlier = next < deadline;
    deadline = next;
    timed_out = false;
    if (earlier) watchdog.cancel();  // re-arm it for the earlier time
  }
};

namespace {
protocol::endpoint ip_of(protocol::endpoint e) {
  e.port = 0;
  return e;
}
}  // namespace

// At the connection cap, a new client takes the place of one that holds a
// socket without being served: the longest idle keep-alive connection, else
// the slowest request still being read (slowloris), taken first from the
// address holding the most sockets, so that one address flooding us churns
// its own connections and not everyone else's. Clients being answered are
// never cut off. False if there is none to take.
bool server::evict_one() {
  std::map<protocol::endpoint, std::size_t> held;
  for (const auto& c : clients_) {
    if (c->socket.is_open()) ++held[ip_of(c->remote)];
  }
  // Idle between requests (keep-alive) goes first; a client that has not sent
  // its first request yet is a reader like any other, and the newest of all.
  const auto rank = [&](const client& c) {
    const bool idle = c.state == std::string_view("idle") && c.requests > 0;
    return std::tuple(-static_cast<long>(held[ip_of(c.remote)]), idle ? 0 : 1, c.state_since);
  };
  client* victim = nullptr;
  for (const auto& c : clients_) {
    const std::string_view state = c->state;
    if (!c->socket.is_open() || (state != "idle" && state != "reading")) continue;
    if (!victim || rank(*c) < rank(*victim)) victim = c.get();
  }
  if (!victim) return false;
  std::error_code ignored;
  victim->socket.close(ignored);  // its serve() ends and forgets it
  return true;
}

bool server::begin_file_response(const client& c) {
  const auto files_max = settings_.max_connections > settings_.sockets_reserved_for_api
                             ? settings_.max_connections - settings_.sockets_reserved_for_api
                             : 1;
  auto& from_ip = file_responses_by_ip_[ip_of(c.remote)];
  if (file_responses_ >= files_max || from_ip >= settings_.max_file_responses_per_ip) {
    if (from_ip == 0) file_responses_by_ip_.erase(ip_of(c.remote));
    return false;
  }
  ++file_responses_;
  ++from_ip;
  return true;
}

void server::end_file_response(const client& c) {
  --file_responses_;
  const auto it = file_responses_by_ip_.find(ip_of(c.remote));
  if (it != file_responses_by_ip_.end() && --it->second == 0) file_responses_by_ip_.erase(it);
}

asio::awaitable<void> server::watch(std::shared_ptr<client> c) {
  while (c->socket.is_open()) {
    c->watchdog.expires_at(c->deadline);
    std::error_code ec;
    co_await c->watchdog.async_wait(redirect_error(use_awaitable, ec));
    if (!c->socket.is_open()) break;
    if (clock::now() >= c->deadline) {
      c->timed_out = true;
      c->deadline = clock::time_point::max();
      c->socket.cancel(ec);  // the pending operation ends with operation_aborted
    }
  }
}

client_info server::info_of(client& c) {
  client_info info;
  info.local = c.local;
  info.remote = c.remote;
  info.requests = c.requests;
  info.bytes_sent = c.bytes_sent;
  info.connected_seconds = std::chrono::duration<double>(clock::now() - c.since).count();
  info.state = c.state;
  if (c.socket.is_open()) {
    const auto queues = peer::queues_of(c.socket.native_handle());
    info.send_queue = queues.send;
    info.receive_queue = queues.receive;
  }
  return info;
}

std::vector<client_info> server::clients() const {
  std::vector<client_info> out;
  for (const auto& c : clients_)
    out.push_back(info_of(*c));
  return out;
}

server::server(asio::io_context& io, server_settings settings, handler handle)
    : io_(io), settings_(settings), handle_(std::move(handle)), acceptor_(io) {}

protocol::result<std::monostate> server::start(const protocol::endpoint& listen) {
  if (auto ec = peer::open_listening(acceptor_, listen)) {
    return protocol::error{"cannot serve HTTP on " + protocol::to_string(listen) + ": " +
                           ec.message()};
  }
  // sendfile(2) has no MSG_NOSIGNAL: a client that hangs up mid-file would
  // kill the whole process with SIGPIPE. Make it an EPIPE error instead.
  ::signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  local_ = peer::from_asio(acceptor_.local_endpoint(ec));
  running_ = true;
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return std::monostate{};
}

void server::stop() {
  running_ = false;
  std::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& c : clients_)
    c->socket.close(ignored);
}

asio::awaitable<void> server::accept_loop() {
  while (running_) {
    std::error_code ec;
    auto socket = co_await acceptor_.async_accept(redirect_error(use_awaitable, ec));
    if (!running_) break;
    if (ec) {
      peer::log_line(peer::log_level::warn) << "http accept failed: " << ec.message();
      asio::steady_timer pause(io_, 100ms);
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    const auto open = static_cast<std::size_t>(std::count_if(
        clients_.begin(), clients_.end(), [](const auto& c) { return c->socket.is_open(); }));
    if (open >= settings_.max_connections && !evict_one()) {
      // Every client is being answered. Best effort, never blocking the
      // loop: a short 503 and goodbye.
      const auto busy = serialize(error_response(503, "too many connections"), false, false);
      socket.non_blocking(true, ec);
      socket.write_some(asio::buffer(busy), ec);
      socket.close(ec);
      continue;
    }
    ++stats_.connections_accepted;
    auto c = std::make_shared<client>(std::move(socket));
    clients_.insert(c);
    asio::co_spawn(io_, watch(c), asio::detached);
    asio::co_spawn(io_, serve(c), asio::detached);
  }
}

asio::awaitable<void> server::serve(std::shared_ptr<client> c) {
  auto* socket = &c->socket;
  request_parser parser(settings_.limits);
  peer::budget_share body_share(settings_.input_budget);  // the body being read
  std::string pending;  // bytes read but not yet parsed (pipelined requests)
  std::array<char, 16 * 1024> buffer;
  bool open = true;

  // Writes a whole response, giving up when the client stops reading. Callers
  // pass a named string: GCC 12 may destroy temporaries in co_await twice.
  auto write = [&](const std::string& bytes) -> asio::awaitable<bool> {
    std::error_code ec;
    c->enter("writing");
    c->expect_within(settings_.write_timeout);
    co_await asio::async_write(*socket, asio::buffer(bytes), redirect_error(use_awaitable, ec));
    if (ec) co_return false;
    c->bytes_sent += bytes.size();
    stats_.bytes_sent += bytes.size();
    co_return true;
  };

  while (open && running_) {
    // Read until one request is complete: the idle timeout applies before its
    // first byte, the request timeout after it (slow senders are cut off).
    bool started = !pending.empty();
    c->enter(started ? "reading" : "idle");
    c->expect_within(started ? settings_.request_timeout : settings_.idle_timeout);
    while (parser.current() == request_parser::state::need_more) {
      if (pending.empty()) {
        std::error_code ec;
        const auto n = co_await socket->async_read_some(asio::buffer(buffer),
                                                        redirect_error(use_awaitable, ec));
        if (ec && c->timed_out) {
          if (started) {
            const auto timeout = serialize(error_response(408, "request timeout"), false, false);
            co_await write(timeout);
          }
          open = false;
          break;
        }
        if (ec) {
          open = false;
          break;
        }
        pending.append(buffer.data(), n);
        if (!started) {
          started = true;
          c->enter("reading");
          c->expect_within(settings_.request_timeout);
        }
      }
      if (parser.head_complete()) {
        pending.erase(0, parser.feed(pending));
        continue;
      }
      pending.erase(0, parser.feed_head(pending));
      // The head is in and a body announced: screen the head (the API token)
      // and charge the body to the node's budget before reading any of it.
      if (parser.head_complete() && parser.current() == request_parser::state::need_more) {
        std::optional<response> refusal;
        if (settings_.screen) {
          request head = parser.head();
          head.local = c->local;
          head.remote = c->remote;
          refusal = settings_.screen(head);
        }
        if (!refusal && !body_share.resize(parser.body_expected(), clock::now())) {
          refusal = error_response(503, "the server is busy; try again shortly");
        }
        if (refusal) {
          // The unread body would be taken for the next request: close.
          const auto bytes = serialize(*refusal, false, false);
          co_await write(bytes);
          open = false;
          break;
        }
      }
    }
    if (!open) break;

    if (parser.current() == request_parser::state::error) {
      const auto refusal =
          serialize(error_response(parser.error_status(), parser.error_reason()), false, false);
      co_await write(refusal);
      break;
    }
    request req = parser.take();
    body_share.resize(0, clock::now());  // the body now belongs to the request being handled
    c->enter("handling");
    req.local = c->local;
    req.remote = c->remote;
    ++c->requests;
    ++stats_.requests_served;
    bool keep_alive = req.keep_alive();
    const bool head = req.method == "HEAD";
    response resp;
    try {
      resp = co_await handle_(std::move(req));
    } catch (const std::exception& e) {
      // A bug in one handler must not take the node down with it.
      peer::log_line(peer::log_level::error) << "http handler failed: " << e.what();
      resp = error_response(500, "internal error");
    }
    // Downloads may fill only part of the sockets, and a few per address:
    // the dashboard and the API always find one (server.hpp).
    const bool file = resp.file && !head;
    if (file && !begin_file_response(*c)) {
      resp = error_response(503, "too many downloads at once; try again shortly");
      resp.set_header("Retry-After", "5");
      keep_alive = false;
    }
    const auto bytes = serialize(resp, keep_alive && running_, head);
    bool sent = co_await write(bytes);
    if (sent && resp.file && !head) sent = co_await send_file(*c, *resp.file);
    if (resp.file && !head) end_file_response(*c);
    if (!sent || !keep_alive) break;
  }
  std::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_both, ignored);
  socket->close(ignored);
  c->watchdog.cancel();
  c->state = "closed";
  closed_.push_front(info_of(*c));
  if (closed_.size() > 16) closed_.pop_back();
  clients_.erase(c);
}

// Streams a file with sendfile(2) (peer/send_file.hpp): no copy through our
// memory. Under an upload limit the file goes in slices, each paid for once
// sent. The time spent on the socket is cut into windows, and each must
// carry the minimum rate (server_settings): the watchdog wakes us at every
// window's end, so a client that reads a few bytes now and then, and never
// lets a write stall for the whole write timeout, is still let go.
asio::awaitable<bool> server::send_file(client& c, const file_body& body) {
  c.enter("writing");
  constexpr std::uint64_t limited_slice = 64 * 1024;
  auto* limit = settings_.upload_limit;
  const auto window = settings_.send_rate_window;
  const auto window_floor = static_cast<std::uint64_t>(
      settings_.min_send_bytes_per_second *
      std::chrono::duration_cast<std::chrono::duration<double>>(window).count());
  std::uint64_t sent = 0;
  // What the client really took since we began: bytes handed to the kernel
  // (what its send queue held then, the response's head and an earlier
  // response included, plus what we sent since) minus what the queue still
  // holds. Counting bytes handed over alone, the kernel's buffers, megabytes
  // deep, would make any reader look fast for minutes.
  const auto queued = [&] {
    const auto q = peer::queues_of(c.socket.native_handle()).send;
    return q > 0 ? static_cast<std::uint64_t>(q) : std::uint64_t{0};
  };
  const std::uint64_t queued_before = queued();
  const auto delivered = [&] {
    const auto handed = queued_before + sent;
    return handed - std::min(handed, queued());
  };
  auto window_end = clock::now() + window;
  std::uint64_t window_start = 0;  // delivered() when the window began
  const std::function<void()> before_wait = [&] {
    c.expect_within(std::max(clock::duration::zero(), window_end - clock::now()));
  };
  while (sent < body.length && running_) {
    const bool limited = limit && limit->rate() > 0;
    const auto slice = std::min(body.length - sent, limited ? limited_slice : body.length);
    const auto r =
        co_await peer::send_file(c.socket, body.file->fd(), body.offset + sent, slice, before_wait);
    sent += r.sent;
    c.bytes_sent += r.sent;
    stats_.bytes_sent += r.sent;
    if (r.error && !c.timed_out) co_return false;
    if (r.error || clock::now() >= window_end) {
      // A window is over (the watchdog cut the wait short, or it just ended).
      const auto now_delivered = std::max(window_start, delivered());
      if (now_delivered - window_start < window_floor) {
        peer::log_line(peer::log_level::info)
            << "http: closing " << protocol::to_string(c.remote) << ": "
            << now_delivered - window_start << " bytes in "
            << std::chrono::duration_cast<std::chrono::seconds>(window).count()
            << " s is below the minimum rate of " << settings_.min_send_bytes_per_second
            << " bytes/s";
        co_return false;
      }
      window_end = clock::now() + window;
      window_start = now_delivered;
      c.timed_out = false;
      continue;
    }
    if (r.sent < slice) {
      // The file is shorter than when it was opened: the length we promised
      // cannot be kept, so the client must see the connection end.
      peer::log_line(peer::log_level::warn) << "http: a served file shrank while being sent";
      co_return false;
    }
    if (limited) {
      // Waiting for our own upload limit is not the client's slowness.
      const auto paused = clock::now();
      co_await limit->acquire(static_cast<std::size_t>(r.sent));
      window_end += clock::now() - paused;
    }
  }
  co_return sent == body.length;
}

}  // namespace peerlab::http

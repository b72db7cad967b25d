#include "peer/node.hpp"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <iterator>

#include "peer/asio_endpoint.hpp"
#include "peer/log.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {
constexpr int bittorrent_first_byte = 0x13;  // the length of "BitTorrent protocol"
constexpr int peerlab_first_byte = 0x00;     // a hello frame's length is < 2^24
}  // namespace

node::node(asio::io_context& io, node_settings settings, protocol::node_id id)
    : io_(io),
      settings_(std::move(settings)),
      id_(id),
      listen_(settings_.listen),
      acceptor_(io),
      dial_timer_(io),
      exchange_timer_(io),
      up_limiter_(io.get_executor(), settings_.up_limit_bytes_per_second),
      down_limiter_(io.get_executor(), settings_.down_limit_bytes_per_second),
      trace_(settings_.trace),
      table_(settings_.discovery),
      store_(settings_.data_dir),
      swarm_(io, store_, settings_.swarm),
      configured_(io, table_, [this] { wake_dialer(); }),
      beacon_(io, settings_.lan),

      admission_(settings_.max_handshakes, settings_.handshakes_per_second_per_ip,
                 settings_.handshake_burst_per_ip),
      input_budget_(settings_.input_budget_bytes),
      tracker_(settings_.tracker) {
  swarm_.set_upload_limit(&up_limiter_);
  swarm_.bittorrent().set_trace(&trace_);
  swarm_.bittorrent().set_dialer([this](protocol::endpoint e) { return dial_bittorrent(e); });
  tracker_.set_local_torrents([this](const auto& hash) { return swarm_.seeds_bt(hash); });
}

protocol::result<std::monostate> node::start() {
  if (auto loaded = store_.load(); !loaded) return loaded;
  // Loopback can reach only this machine: a --peer elsewhere would never answer.
  if (protocol::is_loopback(settings_.listen)) {
    for (const auto& peer : settings_.bootstrap_peers) {
      if (!protocol::is_loopback(peer))
        return protocol::error{loopback_listen_problem(settings_.listen, to_string(peer), peer)};
    }
  }
  auto ec = open_listening(acceptor_, settings_.listen);
  if (ec == asio::error::address_family_not_supported &&
      protocol::is_unspecified(settings_.listen)) {
    // Every interface, on a system without IPv6: IPv4's 0.0.0.0 then.
    auto v4 = *protocol::parse_endpoint("0.0.0.0:0");
    v4.port = settings_.listen.port;
    ec = open_listening(acceptor_, v4);
  }
  if (ec) {
    return protocol::error{"cannot listen on " + protocol::to_string(settings_.listen) + ": " +
                           ec.message()};
  }
  listen_ = from_asio(acceptor_.local_endpoint(ec));  // port 0 became a real port
  running_ = true;
  started_at_ = clock::now();
  configured_.start(settings_, listen_);
  swarm_.set_listen(listen_);
  log_line(log_level::info) << "node " << protocol::to_hex(id_) << " (" << settings_.name
                            << ") listening on " << protocol::to_string(listen_);
  start_lan_discovery();
  swarm_.start();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  asio::co_spawn(io_, dial_loop(), asio::detached);
  asio::co_spawn(io_, peer_exchange_loop(), asio::detached);
  return std::monostate{};
}

void node::stop() {
  if (!running_) return;
  running_ = false;
  std::error_code ignored;
  acceptor_.close(ignored);
  configured_.stop();
  beacon_.stop();
  dial_timer_.cancel();
  exchange_timer_.cancel();
  swarm_.stop();
  up_limiter_.stop();  // release writers waiting for tokens, so shutdown is prompt
  down_limiter_.stop();
  for (auto* socket : dialing_)
    socket->close(ignored);
  for (auto* socket : bt_dialing_)
    socket->close(ignored);
  // Copies: closing a connection ends its session, which edits these sets.
  for (auto c : std::vector(handshaking_.begin(), handshaking_.end()))
    c->close("node stopping");
  for (auto& [id, c] : std::map(established_))
    c->close("node stopping");
}

asio::awaitable<void> node::accept_loop() {
  while (running_) {
    std::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(redirect_error(use_awaitable, ec));
    if (!running_) break;
    if (ec) {
      // Out of file descriptors and similar: log, breathe, keep serving.
      log_line(log_level::warn) << "accept failed: " << ec.message();
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    auto c = make_connection(std::move(socket), direction::inbound);
    if (established_.size() >= settings_.max_connections) {
      c->close("too many connections");
      continue;
    }
    // A full handshake pool still makes room for a newcomer (admission.hpp).
    auto verdict = admission_.admit(c, c->remote(), clock::now());
    if (!verdict.admitted) {
      c->close(verdict.refusal);
      continue;
    }
    if (verdict.evicted) {
      // Out of the count at once, not when its session next runs: the pool
      // never shows more than its limit (e.g. to status()).
      handshaking_.erase(*verdict.evicted);
      (*verdict.evicted)->close("evicted from the handshake pool by a newcomer");
    }
    log_line(log_level::debug) << "accepted " << c->four_tuple();
    handshaking_.insert(c);
    asio::co_spawn(io_, session(c), asio::detached);
  }
}

asio::awaitable<void> node::dial_loop() {
  // co_spawn may run us inline; yield once so that start() returns before the
  // first dial (nodes started together then all listen before anyone dials).
  co_await asio::post(io_, use_awaitable);
  while (running_) {
    const std::size_t busy = established_.size() + handshaking_.size();
    if (busy < settings_.max_connections && dialing_.size() < settings_.max_concurrent_dials) {
      const auto limit = std::min(settings_.max_concurrent_dials - dialing_.size(),
                                  settings_.max_connections - busy);
      for (const auto& target : table_.take_due(clock::now(), limit)) {
        asio::co_spawn(io_, dial(target), asio::detached);
      }
    }
    // Sleep until the next address comes due (at most one look per
    // dial_tick), or until wake_dialer(): an idle node does not wake at all.
    const auto due = table_.next_due();
    dial_timer_.expires_at(due ? std::max(*due, clock::now() + settings_.dial_tick)
                               : clock::time_point::max());
    std::error_code ec;
    co_await dial_timer_.async_wait(redirect_error(use_awaitable, ec));
  }
}

void node::wake_dialer() {
  dial_timer_.cancel();
}

asio::awaitable<std::error_code> node::connect(tcp::socket& socket, protocol::endpoint target,
                                               std::set<tcp::socket*>& in_flight) {
  using namespace asio::experimental::awaitable_operators;
  const auto endpoint = to_asio(target);
  std::error_code ec;
  socket.open(endpoint.protocol(), ec);
  // An active socket dials from our listening IP, so that on one machine
  // 127.0.0.2, 127.0.0.3, … each show their own address on both ends.
  if (!ec && !protocol::is_unspecified(listen_) && listen_.family == target.family) {
    socket.bind(tcp::endpoint(to_asio(listen_).address(), 0), ec);
  }
  if (ec) co_return ec;
  in_flight.insert(&socket);  // so that stop() can abort the connect
  asio::steady_timer timeout(io_, settings_.dial_timeout);
  const auto winner = co_await (socket.async_connect(endpoint, redirect_error(use_awaitable, ec)) ||
                                timeout.async_wait(use_awaitable));
  if (winner.index() == 1) ec = asio::error::timed_out;
  in_flight.erase(&socket);
  co_return ec;
}

asio::awaitable<std::shared_ptr<connection>> node::dial_bittorrent(protocol::endpoint target) {
  tcp::socket socket(io_);
  const auto ec = co_await connect(socket, target, bt_dialing_);
  if (!running_ || ec) {
    if (ec) {
      log_line(log_level::debug) << "BitTorrent dial " << protocol::to_string(target)
                                 << " failed: " << ec.message();
    }
    co_return nullptr;
  }
  co_return make_connection(std::move(socket), direction::outbound);
}

asio::awaitable<void> node::dial(protocol::endpoint target) {
  tcp::socket socket(io_);
  const auto ec = co_await connect(socket, target, dialing_);
  wake_dialer();  // a dial slot is free
  if (!running_) co_return;
  if (ec) {
    log_line(log_level::debug) << "dial " << protocol::to_string(target)
                               << " failed: " << ec.message();
    table_.dial_failed(target, clock::now());
    configured_.dial_failed(target, ec.message());
    co_return;
  }
  auto c = make_connection(std::move(socket), direction::outbound);
  log_line(log_level::debug) << "dialed " << c->four_tuple();
  handshaking_.insert(c);
  // Until the hello says otherwise, the peer listens where we dialed it.
  c->mark_dialed(target);
  co_await session(c);
}

std::shared_ptr<connection> node::make_connection(tcp::socket socket, direction dir) {
  auto c = std::make_shared<connection>(std::move(socket), dir, settings_.connection);
  c->set_rate_limiters(&up_limiter_, &down_limiter_);
  c->set_input_budget(&input_budget_);
  c->set_buffer_recycler(swarm_.chunk_buffers());
  c->set_trace(&trace_);
  return c;
}

asio::awaitable<void> node::session(std::shared_ptr<connection> c) {
  c->start();
  // One port, two protocols: an inbound connection's first byte says which
  // (0x13 opens BitTorrent's handshake, 0x00 peerlab's hello frame), so we
  // speak only once the side that dialed has.
  if (c->dir() == direction::inbound) {
    auto peeking = c->peek_first_byte();
    const int first = co_await std::move(peeking);
    // Neither (an encrypted BitTorrent handshake, say): closed before we
    // say anything, so a client falling back to plain BitTorrent on a new
    // connection has no stray hello of ours left in its buffer.
    if (first != peerlab_first_byte && first != bittorrent_first_byte)
      c->close("neither peerlab nor BitTorrent (first byte " + std::to_string(first) + ")");
    if (first == bittorrent_first_byte) {
      handshaking_.erase(c);
      admission_.finished(c);
      auto serving = swarm_.bittorrent().serve(c);  // GCC 12: no shared_ptr inside a co_await
      co_await std::move(serving);
      closed_bytes_sent_ += c->bytes_sent();
      closed_bytes_received_ += c->bytes_received();
      co_return;
    }
  }
  c->send(protocol::hello{.id = id_, .listen_port = listen_.port, .name = settings_.name});

  auto first = co_await c->receive();
  const auto* h = first ? std::get_if<protocol::hello>(&*first) : nullptr;
  if (first && !h) c->close("expected hello, got " + std::string(protocol::type_name(*first)));
  const bool admitted = h && admit(c, *h);
  handshaking_.erase(c);
  admission_.finished(c);
  if (!admitted) {
    closed_bytes_sent_ += c->bytes_sent();
    closed_bytes_received_ += c->bytes_received();
    // A lost duplicate is no failure: we are connected to that peer already.
    if (c->dir() == direction::outbound && !connected_to(c->advertised())) {
      table_.dial_failed(c->advertised(), clock::now());
    }
    wake_dialer();
    co_return;
  }

  ask_peers(c);
  swarm_.on_connected(c);
  while (c->is_open()) {
    auto m = co_await c->receive();
    if (!m || !handle(c, *m)) break;
  }
  forget(c);
}

bool node::admit(const std::shared_ptr<connection>& c, const protocol::hello& h) {
  if (const auto problem = protocol::handshake_problem(h); !problem.empty()) {
    c->close(problem);
    return false;
  }
  if (swarm_.is_banned(h.id)) {
    c->close("banned for sending bad data");
    return false;
  }
  if (h.id == id_) {
    if (c->dir() == direction::outbound) {
      table_.mark_self(c->advertised());
      configured_.found_self(c->advertised());
    }
    c->close("connection to ourselves");
    return false;
  }
  if (!running_) return false;
  // The address it listens on: its IP (as we see it) + the port it announces.
  protocol::endpoint advertised = c->dir() == direction::outbound ? c->advertised() : c->remote();
  if (c->dir() == direction::inbound) advertised.port = h.listen_port;

  if (auto it = established_.find(h.id); it != established_.end()) {
    // Both ends keep the connection dialed by the smaller id, so they agree
    // even when they dialed each other at the same moment.
    const auto& existing = it->second;
    const auto dialer = [&](const connection& x) {
      return x.dir() == direction::outbound ? id_ : h.id;
    };
    const auto preferred = std::min(id_, h.id);
    if (dialer(*existing) == preferred || dialer(*c) != preferred) {
      c->close("duplicate connection to " + protocol::to_hex(h.id));
      return false;
    }
    auto old = existing;
    established_.erase(it);  // so that forget(old) leaves the table alone
    old->close("replaced by a duplicate connection dialed by the smaller id");
  } else if (established_.size() >= settings_.max_connections) {
    c->close("too many connections");
    return false;
  }

  auto cleaned = h;
  cleaned.name = protocol::printable_name(h.name);
  c->mark_established(cleaned, advertised);
  established_[h.id] = c;
  const bool dialable = protocol::is_dialable(advertised, protocol::is_loopback(listen_));
  if (dialable) table_.connected(advertised, clock::now());
  configured_.connected(advertised);
  log_line(log_level::info) << "connected " << c->four_tuple() << " " << to_string(c->dir())
                            << " peer " << protocol::to_hex(h.id).substr(0, 8) << " \""
                            << cleaned.name << "\" listening on "
                            << protocol::to_string(advertised);
  return true;
}

bool node::connected_to(const protocol::endpoint& address) const {
  return std::any_of(established_.begin(), established_.end(),
                     [&](const auto& entry) { return entry.second->advertised() == address; });
}

void node::forget(const std::shared_ptr<connection>& c) {
  peers_asked_.erase(c);
  closed_bytes_sent_ += c->bytes_sent();
  closed_bytes_received_ += c->bytes_received();
  const auto it = established_.find(c->peer_hello()->id);
  if (it == established_.end() || it->second != c) return;  // already replaced
  established_.erase(it);
  swarm_.on_disconnected(c);
  table_.disconnected(c->advertised(), clock::now());
  wake_dialer();  // a connection slot is free, and that address will come due
}

bool node::handle(const std::shared_ptr<connection>& c, protocol::message& m) {
  if (std::holds_alternative<protocol::get_peers>(m)) {
    c->send(peers_for(*c));
  } else if (const auto* p = std::get_if<protocol::peers>(&m)) {
    if (peers_asked_.erase(c)) {
      learn(*c, *p);
    } else {
      log_line(log_level::debug) << "ignored peers nobody asked for from " << c->four_tuple();
    }
  } else if (std::holds_alternative<protocol::hello>(m)) {
    c->close("second hello on an established connection");
    return false;
  } else if (!std::holds_alternative<protocol::keepalive>(m)) {
    return swarm_.handle(c, m);  // catalogs, manifests, chunks
  }
  return true;  // keepalive: receiving it already refreshed the idle deadline
}

}  // namespace peerlab::peer

// A UDP tracker announce (BEP 15): two question-and-answer datagrams,
// connect then announce, each sent again with doubling waits. UDP gives no
// connection and no delivery: the transaction id pairs an answer with its
// question, and the sender's address says it came from the tracker at all.

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/udp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <variant>
#include <vector>

#include "peer/tracker_announce.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;
namespace bt = protocol::bt;

namespace {

// Stray datagrams (other senders, old transactions) taken per wait before
// the wait counts as unanswered: a flood cannot keep us reading forever.
constexpr int max_stray_datagrams = 64;
constexpr std::size_t max_datagram_bytes = 64 * 1024;
constexpr auto connection_id_lifetime = std::chrono::minutes(1);

std::uint32_t transaction_of(const bt::udp_response& r) {
  return std::visit([](const auto& v) { return v.transaction_id; }, r);
}

struct no_answer {};
using asked = std::variant<no_answer, bt::udp_response, std::string>;  // string: an error

// Sends one datagram and waits `wait` for the answer with `transaction`; a
// tracker's error answer comes back as the error string.
asio::awaitable<asked> ask(asio::ip::udp::socket& socket, const asio::ip::udp::endpoint& tracker,
                           std::span<const std::uint8_t> datagram, std::uint32_t transaction,
                           clock::duration wait) {
  using namespace asio::experimental::awaitable_operators;
  std::error_code ec;
  co_await socket.async_send_to(asio::buffer(datagram.data(), datagram.size()), tracker,
                                redirect_error(use_awaitable, ec));
  if (ec) co_return asked{"cannot send to the tracker (" + ec.message() + ")"};
  const auto family = tracker.address().is_v4() ? protocol::ip_family::v4 : protocol::ip_family::v6;
  asio::steady_timer timer(socket.get_executor(), wait);
  std::vector<std::uint8_t> buffer(max_datagram_bytes);
  for (int stray = 0; stray < max_stray_datagrams; ++stray) {
    asio::ip::udp::endpoint from;
    std::error_code timer_ec;
    // Built apart from the co_await: GCC 12 mishandles temporaries there.
    auto racing =
        socket.async_receive_from(asio::buffer(buffer), from, redirect_error(use_awaitable, ec)) ||
        timer.async_wait(redirect_error(use_awaitable, timer_ec));
    const auto winner = co_await std::move(racing);
    if (winner.index() == 1) co_return asked{no_answer{}};
    if (ec) co_return asked{"cannot receive from the tracker (" + ec.message() + ")"};
    if (from != tracker) continue;  // anyone can send us a datagram
    auto parsed = bt::parse_udp_response({buffer.data(), std::get<0>(winner)}, family);
    if (!parsed || transaction_of(*parsed) != transaction) continue;
    if (const auto* refused = std::get_if<bt::udp_error>(&*parsed))
      co_return asked{"tracker: " + refused->message};
    co_return asked{std::move(*parsed)};
  }
  co_return asked{no_answer{}};
}

}  // namespace

asio::awaitable<announce_outcome> udp_announce(bt::tracker_url url, bt::announce_request request,
                                               udp_connection& connection, udp_timing timing,
                                               std::mt19937& random, protocol::endpoint from) {
  const auto executor = co_await asio::this_coro::executor;
  std::error_code ec;
  asio::ip::udp::resolver resolver(executor);
  const auto found = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                     redirect_error(use_awaitable, ec));
  if (ec || found.empty()) {
    co_return announce_outcome::failed("cannot resolve " + url.host + " (" +
                                       (ec ? ec.message() : std::string("no address")) + ")");
  }
  const auto tracker = found.begin()->endpoint();
  asio::ip::udp::socket socket(executor);
  open_from(socket, tracker, from, ec);
  if (ec) co_return announce_outcome::failed("cannot open a UDP socket (" + ec.message() + ")");

  // One count of sends for both questions: at most `attempts` unanswered
  // waits in all, the n-th lasting first_timeout * 2^n.
  int attempt = 0;
  const auto wait = [&] { return timing.first_timeout * (1 << std::min(attempt, 16)); };
  std::uint32_t connect_transaction = random();
  std::uint32_t announce_transaction = random();
  while (attempt < timing.attempts) {
    if (clock::now() >= connection.expires) {
      const auto datagram = bt::encode_udp_connect(connect_transaction);
      auto op = ask(socket, tracker, datagram, connect_transaction, wait());
      auto answer = co_await std::move(op);
      if (std::holds_alternative<no_answer>(answer)) {
        ++attempt;
        continue;
      }
      if (auto* e = std::get_if<std::string>(&answer)) co_return announce_outcome::failed(*e);
      const auto* connected =
          std::get_if<bt::udp_connect_response>(&std::get<bt::udp_response>(answer));
      if (!connected)
        co_return announce_outcome::failed("udp tracker answered connect with an announce");
      connection = {connected->connection_id, clock::now() + connection_id_lifetime};
    }
    const auto datagram = bt::encode_udp_announce({connection.id, announce_transaction, request});
    auto op = ask(socket, tracker, datagram, announce_transaction, wait());
    auto answer = co_await std::move(op);
    if (std::holds_alternative<no_answer>(answer)) {
      ++attempt;
      continue;
    }
    if (auto* e = std::get_if<std::string>(&answer)) {
      connection = {};  // perhaps our connection id was the problem: a new one next time
      co_return announce_outcome::failed(*e);
    }
    const auto* announced =
        std::get_if<bt::udp_announce_response>(&std::get<bt::udp_response>(answer));
    if (!announced)
      co_return announce_outcome::failed("udp tracker answered announce with a connect");
    announce_outcome out;
    out.response.interval = announced->interval;
    out.response.complete = announced->seeders;
    out.response.incomplete = announced->leechers;
    for (const auto& peer : announced->peers)
      out.response.peers.push_back({peer, std::nullopt});
    co_return out;
  }
  co_return announce_outcome::failed("no answer from the udp tracker after " +
                                     std::to_string(timing.attempts) + " tries");
}

}  // namespace peerlab::peer

// An HTTP tracker announce (BEP 3): one GET on a fresh TCP connection, the
// tracker's bencoded answer read with a bounded HTTP reply reader.

#include <array>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "peer/tracker_announce.hpp"
#include "protocol/http_reply.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;
namespace bt = protocol::bt;

asio::awaitable<announce_outcome> http_announce(bt::tracker_url url, std::string query,
                                                protocol::endpoint from) {
  const auto executor = co_await asio::this_coro::executor;
  std::error_code ec;
  // getaddrinfo on asio's resolver thread: names from /etc/hosts, DNS, mDNS.
  asio::ip::tcp::resolver resolver(executor);
  const auto found = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                     redirect_error(use_awaitable, ec));
  if (ec)
    co_return announce_outcome::failed("cannot resolve " + url.host + " (" + ec.message() + ")");

  // The active socket, from our address: connect() to each address found
  // until one accepts.
  asio::ip::tcp::socket socket(executor);
  ec = asio::error::host_not_found;
  for (const auto& entry : found) {
    std::error_code closing;
    socket.close(closing);
    open_from(socket, entry.endpoint(), from, ec);
    if (!ec) co_await socket.async_connect(entry.endpoint(), redirect_error(use_awaitable, ec));
    if (!ec) break;
  }
  if (ec)
    co_return announce_outcome::failed("cannot connect to " + bt::host_header(url) + " (" +
                                       ec.message() + ")");

  const std::string request = "GET " + bt::announce_target(url, query) +
                              " HTTP/1.1\r\nHost: " + bt::host_header(url) +
                              "\r\nUser-Agent: peerlab/0.1\r\nAccept-Encoding: identity\r\n"
                              "Connection: close\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(request), redirect_error(use_awaitable, ec));
  if (ec) co_return announce_outcome::failed("cannot send the announce (" + ec.message() + ")");

  protocol::http_reply_reader reply(bt::max_tracker_response_bytes);
  std::array<char, 16 * 1024> buffer;
  // Bounded by the reader's limits (head, body) and by the caller's deadline.
  while (reply.current() == protocol::http_reply_reader::state::need_more) {
    const auto n =
        co_await socket.async_read_some(asio::buffer(buffer), redirect_error(use_awaitable, ec));
    if (ec == asio::error::eof) {
      reply.close();
    } else if (ec) {
      co_return announce_outcome::failed("cannot read the answer (" + ec.message() + ")");
    } else {
      reply.feed({buffer.data(), n});
    }
  }
  if (reply.current() == protocol::http_reply_reader::state::failed) {
    co_return announce_outcome::failed("bad HTTP answer: " + reply.error());
  }
  const auto& body = reply.body();
  auto parsed = bt::parse_announce_response(
      {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()});
  if (reply.status() != 200) {
    // Some trackers send their failure reason with an error status.
    if (parsed && !parsed->failure_reason.empty()) co_return announce_outcome{{}, *parsed};
    co_return announce_outcome::failed(
        "HTTP " + std::to_string(reply.status()) +
        (reply.reason().empty() ? "" : " " + reply.reason().substr(0, 100)));
  }
  if (!parsed) co_return announce_outcome::failed(parsed.error_message());
  announce_outcome out;
  out.response = std::move(*parsed);
  co_return out;
}

}  // namespace peerlab::peer

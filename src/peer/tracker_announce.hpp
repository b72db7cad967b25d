#pragma once
// One announce to one tracker, over HTTP or UDP: the I/O halves of
// tracker_client, which owns the schedule. Neither has a deadline of its
// own: the caller races it against a timer (awaitable_operators), which
// cancels the socket operation under way.

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "peer/asio_endpoint.hpp"
#include "protocol/tracker.hpp"
#include "protocol/tracker_url.hpp"

namespace peerlab::peer {

struct announce_outcome {
  std::string error;                         // non-empty: no answer to use
  protocol::bt::announce_response response;  // may carry the tracker's failure reason

  static announce_outcome failed(std::string why) { return {std::move(why), {}}; }
};

// BEP 3: resolve, connect, GET the announce, read a reply of at most
// max_tracker_response_bytes. `query` from protocol::bt::make_announce_query.
// `from`: the address to announce from (port 0), so that a tracker, which
// takes a peer's address from its connection, lists us where we listen
// (unspecified: the system's choice).
asio::awaitable<announce_outcome> http_announce(protocol::bt::tracker_url url, std::string query,
                                                protocol::endpoint from);

// BEP 15's connection id, kept between announces to one tracker.
struct udp_connection {
  std::uint64_t id = 0;
  std::chrono::steady_clock::time_point expires{};  // one minute after the tracker gave it
};

struct udp_timing {
  std::chrono::steady_clock::duration first_timeout;
  int attempts = 1;
};

// BEP 15: connect (unless `connection` is still valid), then announce; each
// datagram sent again after first_timeout * 2^n without an answer, at most
// `attempts` times in all. Only datagrams from the tracker's address with
// the transaction id of the question count. `connection` and `random` must
// outlive the coroutine.
asio::awaitable<announce_outcome> udp_announce(protocol::bt::tracker_url url,
                                               protocol::bt::announce_request request,
                                               udp_connection& connection, udp_timing timing,
                                               std::mt19937& random, protocol::endpoint from);

// Opens `socket` for `to`'s family and binds it to `from`'s address when
// that is a specific one of the same family.
template <class Socket, class Endpoint>
void open_from(Socket& socket, const Endpoint& to, const protocol::endpoint& from,
               std::error_code& ec) {
  socket.open(to.protocol(), ec);
  if (ec || protocol::is_unspecified(from)) return;
  const auto address = to_asio(from).address();
  if (address.is_v6() != to.address().is_v6()) return;
  socket.bind(Endpoint(address, 0), ec);
}

}  // namespace peerlab::peer

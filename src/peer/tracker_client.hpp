#pragma once
// The client side of BitTorrent trackers: a download announces itself to the
// trackers its .torrent or magnet link names and gets back peers of the
// swarm (the lecture's "centralised directory", seen from the client). BEP 3
// over HTTP (tracker_http_announce.cpp), BEP 15 over UDP
// (tracker_udp_announce.cpp); the bytes themselves are built and parsed in
// protocol/tracker*.
//
// Every tracker runs on its own schedule: `started` first, then again after
// the interval it asks for (never more often than min_interval), doubling
// waits after failures. Everything a tracker sends is bounded: the reply's
// bytes, the peers kept, the time each exchange may take.

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/endpoint.hpp"
#include "protocol/tracker.hpp"

namespace peerlab::peer {

using namespace std::chrono_literals;

struct tracker_client_settings {
  // HTTP: the whole exchange (resolve, connect, request, reply of at most
  // protocol::bt::max_tracker_response_bytes).
  std::chrono::steady_clock::duration request_timeout = 15s;
  // UDP: BEP 15 says 15 s * 2^n; we start lower and double, at most
  // udp_attempts sends of each datagram.
  std::chrono::steady_clock::duration udp_first_timeout = 3s;
  int udp_attempts = 4;
  // After failures, doubling, per tracker.
  std::chrono::steady_clock::duration min_backoff = 5s, max_backoff = 30min;
  // Never announce more often than this, whatever a tracker says (tests can
  // lower it); and never wait longer than max_interval between announces.
  std::chrono::steady_clock::duration min_interval = 30s;
  std::chrono::steady_clock::duration max_interval = 2h;
  // The `stopped` announce of stop(): best effort, given up after this.
  std::chrono::steady_clock::duration stop_timeout = 3s;
  std::uint32_t numwant = 50;
  std::size_t max_trackers = 64;  // URLs after these are ignored
  // Where this node itself is reached (with its port): dropped from every
  // answer. Empty: this machine's interface addresses at the announced port.
  std::vector<protocol::endpoint> own_addresses;
  // The address announces go out from (port unused): the tracker lists us
  // at the address it sees. Unspecified: the system's choice.
  protocol::endpoint source_address;  // 0.0.0.0: unspecified
};

struct announce_numbers {
  std::uint64_t uploaded = 0, downloaded = 0;
  std::optional<std::uint64_t> left;
};

// One tracker's state, for the dashboard / API.
struct tracker_status {
  std::string url;
  std::string state;  // "announcing" | "ok" | "failed" | "waiting"
  std::string error;  // why the last announce failed (a tracker's failure reason too)
  std::string warning;
  std::size_t peers = 0;  // in the last answer, after filtering
  std::optional<std::uint32_t> seeders, leechers;
  std::chrono::steady_clock::time_point next_announce;  // max(): none planned
};

// Announces one torrent to its trackers (BEP 3 HTTP, BEP 15 UDP; BEP 12
// tiers flattened: every tracker is announced to, each on its own schedule)
// and hands back the peers they return. Lives on the network thread.
class tracker_client {
 public:
  using numbers_source = std::function<announce_numbers()>;
  using peers_handler = std::function<void(std::vector<protocol::endpoint>)>;

  tracker_client(asio::io_context& io, std::vector<std::string> urls,
                 protocol::bt::sha1_digest info_hash, protocol::bt::peer_id own_id,
                 std::uint16_t port, numbers_source numbers, peers_handler on_peers,
                 tracker_client_settings s = {});
  // Stops (see stop()); no callback runs after destruction, and coroutines
  // still on their way hold only the shared state, never this object.
  ~tracker_client();
  tracker_client(const tracker_client&) = delete;
  tracker_client& operator=(const tracker_client&) = delete;

  // `started` to every tracker now, then each on its interval.
  void start();
  // `completed` to every tracker now (once; after `started` where that is
  // still on its way).
  void completed();
  // Best-effort `stopped` to each tracker that was sent `started`, given up
  // after stop_timeout; then no more announces.
  void stop();
  // E.g. when the download runs short of peers: each tracker that answered
  // re-announces as soon as its min interval allows (failed ones keep their
  // backoff).
  void announce_now();

  std::vector<tracker_status> status() const;

 private:
  struct shared;  // the state coroutines hold (tracker_client.cpp)
  std::shared_ptr<shared> state_;
};

}  // namespace peerlab::peer

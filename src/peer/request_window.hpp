#pragma once
// How many bytes of requests to keep in flight to one peer: enough to cover
// twice what the link carries in a round trip (its bandwidth × delay), so the
// peer never runs dry while our next requests travel to it (and on a path
// that loses packets, half a second more: a lost request is late by an RTO). It starts at a
// floor and grows by at most what each delivery brings (doubling per round
// trip, like TCP's slow start) until the measured rate stops rising; it
// shrinks back when the rate falls, and to the floor after a timeout.
// Pure bookkeeping with the clock passed in: unit-tested without sockets.

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

#include "peer/settings.hpp"

namespace peerlab::peer {

class request_window {
 public:
  using clock = std::chrono::steady_clock;

  explicit request_window(request_window_settings s = {}) : s_(s), bytes_(s.min_bytes) {}

  // A chunk of `bytes` arrived; `rtt` is the connection's smoothed round
  // trip; `lossy` if it has had to resend our requests (its path drops packets).
  void on_delivery(std::uint64_t bytes, clock::time_point now, clock::duration rtt,
                   bool lossy = false);
  // The peer delivered nothing for too long: back to the floor.
  void on_timeout();

  std::uint64_t bytes() const { return bytes_; }
  // The window in requests for chunks of `chunk_bytes`, within the bounds.
  std::uint32_t requests(std::uint32_t chunk_bytes) const;
  // Bytes per second delivered over the last rate_interval (0: none yet).
  double rate(clock::time_point now) const;

 private:
  request_window_settings s_;
  std::uint64_t bytes_;
  std::deque<std::pair<clock::time_point, std::uint64_t>> deliveries_;  // within rate_interval
  std::uint64_t delivered_ = 0;                                         // their bytes
  clock::time_point first_delivery_{};
};

}  // namespace peerlab::peer

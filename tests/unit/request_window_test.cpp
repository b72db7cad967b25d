// The request window: sized from the link (rate × round trip), grown like a
// congestion window, with an injected clock.

#include "peer/request_window.hpp"

#include <gtest/gtest.h>

namespace peerlab::peer {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
constexpr std::uint32_t chunk = 256 * 1024;

// Feeds a window the deliveries of a link of `rate` bytes/s and round trip
// `rtt` that always has `window.bytes()` in flight, for `duration`.
void run_link(request_window& w, clock::time_point& now, double rate, clock::duration rtt,
              clock::duration duration, bool lossy = false) {
  const auto end = now + duration;
  while (now < end) {
    // What arrives per round trip is whatever was in flight, up to the link.
    const double per_rtt = std::min<double>(static_cast<double>(w.bytes()),
                                            rate * std::chrono::duration<double>(rtt).count());
    const auto chunks = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(per_rtt / chunk));
    for (std::uint64_t i = 0; i < chunks; ++i) {
      now += rtt / chunks;
      w.on_delivery(chunk, now, rtt, lossy);
    }
  }
}

TEST(RequestWindow, StartsAtTheFloor) {
  request_window w;
  EXPECT_EQ(w.bytes(), 2u * 1024 * 1024);
  EXPECT_EQ(w.requests(chunk), 8u);
  EXPECT_EQ(w.requests(4 * 1024 * 1024), 2u) << "at least two requests, whatever the chunk size";
}

TEST(RequestWindow, StaysAtTheFloorOnAFastShortLink) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  run_link(w, now, 1e9, 50us, 2s);  // loopback: 1 GB/s, 50 µs
  EXPECT_EQ(w.requests(chunk), 8u);
}

TEST(RequestWindow, GrowsToFourTimesTheBandwidthDelayProductOfALongFatLink) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  const double rate = 6.25e6;  // 50 Mbit/s
  run_link(w, now, rate, 200ms, 20s);
  const double bdp = rate * 0.2;
  EXPECT_GE(static_cast<double>(w.bytes()), 3.3 * bdp);
  EXPECT_LE(static_cast<double>(w.bytes()), 4.6 * bdp);
  EXPECT_GE(w.requests(chunk), 16u);  // 5 MB of 256 KiB requests: 19
  EXPECT_LE(w.requests(chunk), 22u);
}

TEST(RequestWindow, OnALossyPathCoversHalfASecondMore) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  const double rate = 6.25e6;  // 50 Mbit/s, 200 ms, requests being resent
  run_link(w, now, rate, 200ms, 20s, true);
  const double wanted = rate * (4 * 0.2 + 0.5);
  EXPECT_GE(static_cast<double>(w.bytes()), 0.85 * wanted);
  EXPECT_LE(static_cast<double>(w.bytes()), 1.15 * wanted);
}

TEST(RequestWindow, GrowsAtMostByWhatEachDeliveryBrings) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  // One delivery that looks like a huge rate cannot blow the window up.
  w.on_delivery(chunk, now, 1s);
  EXPECT_LE(w.bytes(), 2u * 1024 * 1024 + chunk);
}

TEST(RequestWindow, IsBoundedByWhatAnUploaderQueues) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  run_link(w, now, 125e6, 1s, 30s);  // 1 Gbit/s, 1 s: far more than 64 chunks
  EXPECT_EQ(w.requests(chunk), 64u);
}

TEST(RequestWindow, FallsBackToTheFloorAfterATimeout) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  run_link(w, now, 12.5e6, 400ms, 20s);
  ASSERT_GT(w.requests(chunk), 8u);
  w.on_timeout();
  EXPECT_EQ(w.requests(chunk), 8u);
  EXPECT_EQ(w.rate(now), 0);
}

TEST(RequestWindow, ShrinksWhenTheRateFalls) {
  request_window w;
  auto now = clock::time_point{} + 1h;
  run_link(w, now, 12.5e6, 400ms, 20s);
  const auto big = w.bytes();
  run_link(w, now, 1e6, 400ms, 20s);  // the link now carries a twelfth
  EXPECT_LT(w.bytes(), big / 4);
}

}  // namespace
}  // namespace peerlab::peer

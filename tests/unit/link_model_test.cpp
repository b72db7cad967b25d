// The link emulator's scheduling (tests/link/link_model.hpp), driven by an
// injected clock: rate, tail-drop queue, delay and seeded loss.
#include "link_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace {

using namespace std::chrono_literals;
using peerlab::link::direction_settings;
using peerlab::link::frame_bytes;
using peerlab::link::nanoseconds;
using peerlab::link::one_way_link;
using peerlab::link::parse_settings;
using peerlab::link::verdict;

frame_bytes frame(std::size_t size, std::byte fill = std::byte{0}) {
  return frame_bytes(size, fill);
}

// Releases everything due at `now`; returns the sizes in delivery order.
std::vector<std::size_t> due(one_way_link& link, nanoseconds now) {
  std::vector<std::size_t> sizes;
  link.release_due(now, [&](frame_bytes&& f) { sizes.push_back(f.size()); });
  return sizes;
}

TEST(LinkModel, SerialisesBackToBackFramesAtTheRate) {
  direction_settings s;
  s.rate_bits_per_s = 8'000'000;  // 1 byte per microsecond
  one_way_link link(s);
  ASSERT_EQ(link.offer(0ns, frame(1000)), verdict::queued);
  ASSERT_EQ(link.offer(0ns, frame(500)), verdict::queued);
  EXPECT_EQ(link.next_release(), nanoseconds(1000us));
  EXPECT_TRUE(due(link, 999us).empty());
  EXPECT_EQ(due(link, 1000us), std::vector<std::size_t>{1000});
  EXPECT_EQ(link.next_release(), nanoseconds(1500us));
  EXPECT_EQ(due(link, 2ms), std::vector<std::size_t>{500});
  EXPECT_FALSE(link.next_release());
}

TEST(LinkModel, AnIdleLinkStartsSendingWhenAFrameArrives) {
  direction_settings s;
  s.rate_bits_per_s = 8'000'000;
  one_way_link link(s);
  link.offer(0ns, frame(100));
  EXPECT_EQ(due(link, 1s).size(), 1u);
  link.offer(5s, frame(100));  // the link was idle: no credit saved up, no debt
  EXPECT_EQ(link.next_release(), nanoseconds(5s + 100us));
}

TEST(LinkModel, AddsTheDelayAfterSerialisation) {
  direction_settings s;
  s.rate_bits_per_s = 8'000'000;
  s.delay = 100ms;
  one_way_link link(s);
  link.offer(10ms, frame(1000));
  EXPECT_EQ(link.next_release(), nanoseconds(10ms + 1ms + 100ms));
}

TEST(LinkModel, WithoutARateOnlyTheDelayHoldsFrames) {
  direction_settings s;
  s.delay = 200ms;
  s.queue_limit_frames = 1;  // no rate, so no queue: never a drop
  one_way_link link(s);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(link.offer(nanoseconds(i), frame(1500)), verdict::queued);
  EXPECT_EQ(due(link, 200ms + 99ns).size(), 100u);
}

TEST(LinkModel, RoundingNeverDriftsOverManyFrames) {
  direction_settings s;
  s.rate_bits_per_s = 3'000'000;  // 1514 bytes: 4037.33 us each, not a whole number
  one_way_link link(s);
  for (int i = 0; i < 3000; ++i)
    link.offer(0ns, frame(1514));
  // 3000 * 1514 * 8 bits / 3 Mbit/s = 12.112 s exactly.
  std::size_t delivered = due(link, 12'112ms - 1ns).size();
  EXPECT_EQ(delivered, 2999u);
  EXPECT_EQ(link.next_release(), nanoseconds(12'112ms));
}

TEST(LinkModel, DropsAtTheTailWhenTheQueueHoldsTooManyBytes) {
  direction_settings s;
  s.rate_bits_per_s = 8'000'000;
  s.queue_limit_bytes = 3000;
  one_way_link link(s);
  EXPECT_EQ(link.offer(0ns, frame(1500)), verdict::queued);
  EXPECT_EQ(link.offer(0ns, frame(1500)), verdict::queued);
  EXPECT_EQ(link.offer(0ns, frame(1)), verdict::dropped_queue);
  EXPECT_EQ(link.queued_bytes(0ns), 3000u);
  // Once the first frame's last bit is on the wire, there is room again.
  EXPECT_EQ(link.offer(1500us, frame(1500)), verdict::queued);
  EXPECT_EQ(link.counters().frames_dropped_queue, 1u);
  EXPECT_EQ(link.counters().bytes_dropped_queue, 1u);
  EXPECT_EQ(link.counters().peak_queue_bytes, 3000u);
}

TEST(LinkModel, FramesInFlightOnTheDelayDoNotTakeQueueRoom) {
  direction_settings s;
  s.rate_bits_per_s = 8'000'000;
  s.queue_limit_bytes = 1500;
  s.delay = 1s;
  one_way_link link(s);
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(link.offer(nanoseconds(i * 1500us), frame(1500)), verdict::queued) << i;
  EXPECT_EQ(link.held_frames(), 10u);
}

TEST(LinkModel, DropsAtTheTailWhenTheQueueHoldsTooManyFrames) {
  direction_settings s;
  s.rate_bits_per_s = 1'000'000;
  s.queue_limit_frames = 2;
  one_way_link link(s);
  EXPECT_EQ(link.offer(0ns, frame(64)), verdict::queued);
  EXPECT_EQ(link.offer(0ns, frame(64)), verdict::queued);
  EXPECT_EQ(link.offer(0ns, frame(64)), verdict::dropped_queue);
}

TEST(LinkModel, LossIsRandomButTheSameForTheSameSeed) {
  direction_settings s;
  s.loss_probability = 0.1;
  s.seed = 42;
  auto pattern = [&](std::uint64_t seed) {
    s.seed = seed;
    one_way_link link(s);
    std::vector<bool> lost;
    for (int i = 0; i < 10'000; ++i)
      lost.push_back(link.offer(nanoseconds(i), frame(100)) == verdict::dropped_loss);
    return lost;
  };
  const auto first = pattern(42);
  EXPECT_EQ(first, pattern(42));
  EXPECT_NE(first, pattern(43));
  const auto lost = std::count(first.begin(), first.end(), true);
  EXPECT_GT(lost, 850);  // 1000 expected; 5 standard deviations is about 150
  EXPECT_LT(lost, 1150);
}

TEST(LinkModel, ALostFrameStillTakesItsTimeOnTheWire) {
  direction_settings s;
  s.rate_bits_per_s = 8'000'000;
  s.loss_probability = 1.0;
  one_way_link link(s);
  EXPECT_EQ(link.offer(0ns, frame(1000)), verdict::dropped_loss);
  EXPECT_EQ(link.counters().frames_dropped_loss, 1u);
  EXPECT_EQ(link.counters().bytes_dropped_loss, 1000u);
  EXPECT_EQ(link.queued_bytes(999us), 1000u);
  EXPECT_EQ(link.queued_bytes(1000us), 0u);
}

TEST(LinkModel, DeliversInOrderAndCountsWhatItForwarded) {
  direction_settings s;
  s.rate_bits_per_s = 80'000'000;
  s.delay = 5ms;
  one_way_link link(s);
  for (std::size_t size = 60; size < 70; ++size)
    link.offer(0ns, frame(size));
  std::vector<std::size_t> sizes = due(link, 1s);
  std::vector<std::size_t> expected;
  for (std::size_t size = 60; size < 70; ++size)
    expected.push_back(size);
  EXPECT_EQ(sizes, expected);
  EXPECT_EQ(link.counters().frames_forwarded, 10u);
  EXPECT_EQ(link.counters().bytes_forwarded, 645u);
}

TEST(LinkModel, ReleasesAtMostTheFramesAskedFor) {
  direction_settings s;
  one_way_link link(s);
  for (int i = 0; i < 5; ++i)
    link.offer(0ns, frame(10));
  std::size_t seen = 0;
  EXPECT_EQ(link.release_due(
                0ns, [&](frame_bytes&&) { ++seen; }, 3),
            3u);
  EXPECT_EQ(seen, 3u);
  EXPECT_EQ(link.held_frames(), 2u);
}

TEST(LinkModel, HoldsNoMoreThanItsSafetyNet) {
  direction_settings s;
  s.delay = 1s;
  s.max_held_bytes = 3000;
  one_way_link link(s);
  EXPECT_EQ(link.offer(0ns, frame(1500)), verdict::queued);
  EXPECT_EQ(link.offer(0ns, frame(1500)), verdict::queued);
  EXPECT_EQ(link.offer(0ns, frame(1500)), verdict::dropped_queue);
}

TEST(LinkSettings, ParsesRateQueueDelayAndLoss) {
  direction_settings s;
  std::string error;
  ASSERT_TRUE(parse_settings("rate=100mbit,queue=5MB,delay=100ms,loss=1%", s, error)) << error;
  EXPECT_EQ(s.rate_bits_per_s, 100'000'000u);
  EXPECT_EQ(s.queue_limit_bytes, 5'000'000u);
  EXPECT_EQ(s.delay, nanoseconds(100ms));
  EXPECT_DOUBLE_EQ(s.loss_probability, 0.01);
  ASSERT_TRUE(parse_settings("rate=2Mbit,queue=64KiB,delay=500us,loss=0.02", s, error)) << error;
  EXPECT_EQ(s.rate_bits_per_s, 2'000'000u);
  EXPECT_EQ(s.queue_limit_bytes, 65'536u);
  EXPECT_EQ(s.delay, nanoseconds(500us));
  EXPECT_DOUBLE_EQ(s.loss_probability, 0.02);
  ASSERT_TRUE(parse_settings("queue=100p,rate=1500000", s, error)) << error;
  EXPECT_EQ(s.queue_limit_frames, 100u);
  EXPECT_EQ(s.queue_limit_bytes, 0u);
  EXPECT_EQ(s.rate_bits_per_s, 1'500'000u);
}

TEST(LinkSettings, RefusesWhatItDoesNotUnderstandAndSaysWhich) {
  for (const char* bad : {"rate=fast", "rate=10furlongs", "delay=10", "loss=2", "loss=-1%",
                          "queue=1.5x", "speed=1mbit", "rate=", "rate=1e99gbit"}) {
    direction_settings s;
    std::string error;
    EXPECT_FALSE(parse_settings(bad, s, error)) << bad;
    EXPECT_NE(error.find(std::string(bad).substr(0, 4)), std::string::npos) << error;
  }
}

}  // namespace

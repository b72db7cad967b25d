// Bandwidth limits: the RATE syntax of --up-limit/--down-limit, the token
// bucket on a simulated clock (so seconds of traffic take microseconds to
// test), and the limiter's waiting on a real io_context.

#include "peer/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "test_data.hpp"

namespace peerlab::peer {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr std::uint64_t MiB = 1024 * KiB;

double seconds(clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// ---- parse_rate ----

TEST(ParseRate, AcceptsBytesAndBinaryAndDecimalUnits) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"0", 0},
      {"0B", 0},
      {"0.0MiB", 0},
      {"1000", 1000},
      {"1000B", 1000},
      {"007", 7},
      {"500KiB", 500 * KiB},
      {"8MiB", 8 * MiB},
      {"1GiB", 1024 * MiB},
      {"500KB", 500'000},
      {"8MB", 8'000'000},
      {"1GB", 1'000'000'000},
      {"1.5MiB", 3 * MiB / 2},
      {"0.5KiB", 512},
      {"2.25GB", 2'250'000'000},
      {"0.001KB", 1},
      {"0.1KiB", 102},  // 102.4, to the nearest byte
      {"1.0000000001GiB", 1024 * MiB},
      {"9223372036854775808", 1ULL << 63},
      {"8589934592GiB", 1ULL << 63},
  };
  for (const auto& [text, bytes] : cases) {
    const auto r = parse_rate(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.error_message();
    EXPECT_EQ(*r, bytes) << text;
  }
}

TEST(ParseRate, RejectsMalformedText) {
  for (const char* text :
       {"",      "-1",    "-1MiB",   "8Mb",  "8mib", "8 MiB", " 8MiB", "8MiB ", "+8MiB", "MiB",
        ".5MiB", "1.MiB", "1..5MiB", "1.5",  "1.5B", "1e6",   "0x10",  "8MiBs", "8KiBB", "1,5MiB",
        "8k",    "8K",    "8kB",     "8Kib", "8TiB", "inf",   "nan",   "8MiB/s"}) {
    const auto r = parse_rate(text);
    EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << (r.ok() ? *r : 0);
  }
}

TEST(ParseRate, RejectsRatesAboveTwoToTheSixtyThird) {
  for (const char* text : {"9223372036854775809", "8589934593GiB", "8589934592.5GiB",
                           "99999999999999999999999", "18446744073709551616KiB"}) {
    const auto r = parse_rate(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error_message().find("too large"), std::string::npos) << r.error_message();
  }
}

TEST(ParseRate, RejectsANonzeroRateThatRoundsToZeroInsteadOfMeaningUnlimited) {
  for (const char* text : {"0.0001KiB", "0.0000000001GiB"})
    EXPECT_FALSE(parse_rate(text).ok()) << text;
}

TEST(ParseRate, ErrorIsOneSentenceThatShowsWhatToType) {
  const auto r = parse_rate("8Mb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_message(),
            "'8Mb' is not a rate: use e.g. 500KiB, 8MiB, 1GiB or 0 for unlimited");
  EXPECT_NE(parse_rate("-5MiB").error_message().find("negative"), std::string::npos);
}

// ---- token_bucket (simulated clock) ----

// A sender that sleeps exactly as long as the bucket says, then sends;
// `late` models timers that fire after their deadline. Returns when the last
// piece was allowed to go, measured from the first take.
clock::duration send_all(token_bucket& bucket, std::uint64_t total, std::uint64_t piece,
                         clock::time_point start, clock::duration late = {}) {
  auto now = start;
  for (std::uint64_t sent = 0; sent < total; sent += piece) {
    const auto wait = bucket.take(piece, now);
    if (wait > 0ns) now += wait + late;
  }
  return now - start;
}

TEST(TokenBucket, UnlimitedNeverWaits) {
  token_bucket bucket(0);
  EXPECT_TRUE(bucket.unlimited());
  const auto t = clock::now();
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(bucket.take(1024 * MiB, t), 0ns);
}

TEST(TokenBucket, DefaultBurstIsAOneTwentiethOfTheRateButAtLeast64KiB) {
  EXPECT_EQ(token_bucket(4 * MiB).burst(), 4 * MiB / 20);
  EXPECT_EQ(token_bucket(100 * KiB).burst(), 64 * KiB);
  EXPECT_EQ(token_bucket(1 * MiB, 10 * KiB).burst(), 10 * KiB);
}

TEST(TokenBucket, Sends32MiBIn256KiBPiecesAt4MiBPerSecondInEightSeconds) {
  token_bucket bucket(4 * MiB);
  const double elapsed = seconds(send_all(bucket, 32 * MiB, 256 * KiB, clock::now()));
  EXPECT_NEAR(elapsed, 8.0, 8.0 * 0.005);
}

TEST(TokenBucket, LateTimersDoNotLowerTheAverageRate) {
  // Each sleep overshoots by 3 ms; the tokens earned meanwhile shorten the
  // next wait, so only the last overshoot shows.
  token_bucket bucket(4 * MiB);
  const double elapsed = seconds(send_all(bucket, 32 * MiB, 256 * KiB, clock::now(), 3ms));
  EXPECT_NEAR(elapsed, 8.0, 8.0 * 0.005);
}

TEST(TokenBucket, ManyTinyPiecesAddUpToTheExactRate) {
  token_bucket bucket(1000);
  const double elapsed = seconds(send_all(bucket, 100'000, 1, clock::now()));
  EXPECT_NEAR(elapsed, 100.0, 100.0 * 0.0001);
}

TEST(TokenBucket, RandomPieceSizesKeepTheLongTermRate) {
  std::mt19937_64 random(42);
  std::uniform_int_distribution<std::uint64_t> size(1, 2 * MiB);
  token_bucket bucket(3 * MiB);
  const auto start = clock::now();
  auto now = start;
  std::uint64_t sent = 0;
  while (sent < 300 * MiB) {
    const auto piece = size(random);
    now += bucket.take(piece, now);
    sent += piece;
  }
  const double expected = static_cast<double>(sent) / (3 * MiB);  // about 100 s
  EXPECT_NEAR(seconds(now - start), expected, expected * 0.001);
}

TEST(TokenBucket, PieceLargerThanTheBurstGoesThroughAndDelaysTheNext) {
  token_bucket bucket(1 * MiB);  // burst: 64 KiB
  auto now = clock::now();
  bucket.take(1, now);
  now += 10s;  // idle: the burst is saved up
  // A bucket that required the whole piece in its balance would never let
  // 4 MiB through a 64 KiB burst; the debt model waits for the difference.
  const auto wait = bucket.take(4 * MiB, now);
  EXPECT_NEAR(seconds(wait), (4.0 * MiB - 64.0 * KiB) / MiB, 1e-6);
  // Whoever comes next, even at once, waits for that debt plus its own bytes.
  EXPECT_NEAR(seconds(bucket.take(64 * KiB, now)), 4.0, 1e-6);
  EXPECT_NEAR(seconds(bucket.take(64 * KiB, now + 4s)), 0.0625, 1e-6);
}

TEST(TokenBucket, IdleTimeRefillsOnlyUpToTheBurst) {
  token_bucket bucket(1 * MiB);
  auto now = clock::now();
  bucket.take(1, now);
  now += 1h;  // would be 3.5 GiB of credit without the cap
  EXPECT_EQ(bucket.take(64 * KiB, now), 0ns);
  EXPECT_NEAR(seconds(bucket.take(1 * MiB, now)), 1.0, 1e-6);
}

TEST(TokenBucket, ANewBucketStartsEmptySoTheLimitHoldsFromTheFirstByte) {
  token_bucket bucket(1 * MiB);
  EXPECT_NEAR(seconds(bucket.take(512 * KiB, clock::now())), 0.5, 1e-6);
}

TEST(TokenBucket, RateChangeTakesEffectAndKeepsTheDebtInBytes) {
  token_bucket bucket(1 * MiB);
  auto now = clock::now();
  EXPECT_NEAR(seconds(bucket.take(2 * MiB, now)), 2.0, 1e-6);
  now += 1s;  // 1 MiB of the debt paid, 1 MiB left
  bucket.set_rate(2 * MiB, now);
  EXPECT_EQ(bucket.rate(), 2 * MiB);
  EXPECT_EQ(bucket.burst(), 2 * MiB / 20);
  // 1 MiB of old debt plus 1 MiB new, at 2 MiB/s.
  EXPECT_NEAR(seconds(bucket.take(1 * MiB, now)), 1.0, 1e-6);
  now += 1s;
  EXPECT_NEAR(seconds(bucket.take(1 * MiB, now)), 0.5, 1e-6);
}

TEST(TokenBucket, SwitchingToUnlimitedAndBackStartsAFreshLimit) {
  token_bucket bucket(1 * MiB);
  auto now = clock::now();
  bucket.take(10 * MiB, now);
  bucket.set_rate(0, now);
  EXPECT_EQ(bucket.take(100 * MiB, now), 0ns);
  now += 1h;
  bucket.set_rate(1 * MiB, now);
  // Neither the old debt nor an hour of unlimited time carries over.
  EXPECT_NEAR(seconds(bucket.take(1 * MiB, now)), 1.0, 1e-6);
}

TEST(TokenBucket, BytesGivenBackDelayNobodyAfter) {
  token_bucket bucket(1 * MiB);
  const auto now = clock::now();
  EXPECT_NEAR(seconds(bucket.take(1 * MiB, now)), 1.0, 1e-6);
  bucket.give_back(1 * MiB, now);  // that wait was cancelled: nothing was sent
  EXPECT_NEAR(seconds(bucket.take(512 * KiB, now)), 0.5, 1e-6);
  // Giving back never saves up more than the burst.
  bucket.give_back(100 * MiB, now);
  EXPECT_EQ(bucket.take(64 * KiB, now), 0ns);
  EXPECT_GT(bucket.take(1, now), 0ns);
}

TEST(TokenBucket, TimeGoingBackwardsAddsNoCredit) {
  token_bucket bucket(1 * MiB);
  const auto now = clock::now();
  bucket.take(1 * MiB, now);
  EXPECT_NEAR(seconds(bucket.take(1 * MiB, now - 10s)), 2.0, 1e-6);
}

// ---- rate_limiter (real io_context) ----

TEST(RateLimiter, Moves2MiBThrough8MiBPerSecondInNoLessThanAFifthOfASecond) {
  asio::io_context io;
  rate_limiter limiter(io.get_executor(), 8 * MiB);
  const auto start = clock::now();
  clock::time_point end;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 8; ++i)
          co_await limiter.acquire(256 * KiB);
        end = clock::now();
      },
      asio::detached);
  io.run();
  // Exactly 0.25 s from an empty bucket; only a lower bound is asserted
  // because a busy machine makes any wall-clock upper bound flaky.
  EXPECT_GE(seconds(end - start), 0.2);
}

TEST(RateLimiter, UnlimitedAcquireCompletesWithoutWaiting) {
  asio::io_context io;
  rate_limiter limiter(io.get_executor(), 0);
  int done = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 100; ++i)
          co_await limiter.acquire(1024 * MiB);
        ++done;
      },
      asio::detached);
  io.poll();  // runs only what is ready: no timer may be involved
  EXPECT_EQ(done, 1);
}

// A waiter must never be stuck behind a limit that no longer applies. The
// run_for() deadlines only stop a broken test: without the wake-up these
// waits would last 17 minutes.
TEST(RateLimiter, RemovingTheLimitWakesCurrentWaiters) {
  asio::io_context io;
  rate_limiter limiter(io.get_executor(), 1 * KiB);
  int done = 0;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await limiter.acquire(1 * MiB);
          ++done;
        },
        asio::detached);
  }
  asio::steady_timer later(io, 50ms);
  later.async_wait([&](std::error_code) { limiter.set_rate(0); });
  io.run_for(30s);
  EXPECT_EQ(done, 3);
  EXPECT_EQ(limiter.rate(), 0u);
}

TEST(RateLimiter, RaisingTheLimitShortensCurrentWaits) {
  asio::io_context io;
  rate_limiter limiter(io.get_executor(), 1 * KiB);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await limiter.acquire(100 * KiB);  // 100 s at 1 KiB/s, 0.1 s at 1 MiB/s
        done = true;
      },
      asio::detached);
  asio::steady_timer later(io, 20ms);
  later.async_wait([&](std::error_code) { limiter.set_rate(1 * MiB); });
  io.run_for(30s);
  EXPECT_TRUE(done);
}

TEST(RateLimiter, StopReleasesWaitersAndLetsLaterAcquiresThrough) {
  // What a node does on shutdown: io_context::run() must not wait out a debt.
  asio::io_context io;
  rate_limiter limiter(io.get_executor(), 1 * KiB);
  int done = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await limiter.acquire(1 * MiB);
        ++done;
        co_await limiter.acquire(1 * MiB);
        ++done;
      },
      asio::detached);
  asio::steady_timer later(io, 20ms);
  later.async_wait([&](std::error_code) { limiter.stop(); });
  io.run_for(30s);
  EXPECT_EQ(done, 2);
  EXPECT_TRUE(io.stopped());  // nothing left pending
}

TEST(RateLimiter, CancellingTheAwaitingCoroutineReleasesItAndRefundsItsBytes) {
  asio::io_context io;
  rate_limiter limiter(io.get_executor(), 1 * KiB);
  asio::cancellation_signal cancel;
  bool cancelled_done = false;
  bool next_done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await limiter.acquire(1 * MiB);  // 1024 s unless cancelled
        cancelled_done = true;
        // Without the refund this would pay for the cancelled mebibyte.
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
              co_await limiter.acquire(100);
              next_done = true;
            },
            asio::detached);
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  asio::steady_timer later(io, 20ms);
  later.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  io.run_for(30s);
  EXPECT_TRUE(cancelled_done);
  EXPECT_TRUE(next_done);
}

TEST(RateLimiter, DestroyingTheLimiterReleasesItsWaiters) {
  asio::io_context io;
  auto limiter = std::make_unique<rate_limiter>(io.get_executor(), 1 * KiB);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await limiter->acquire(1 * MiB);
        done = true;
      },
      asio::detached);
  asio::steady_timer later(io, 20ms);
  later.async_wait([&](std::error_code) { limiter.reset(); });
  io.run_for(30s);
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace peerlab::peer

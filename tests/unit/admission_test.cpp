// Admission to the pool of connections before their hello: pure bookkeeping,
// driven with a clock of our own.

#include "peer/admission.hpp"

#include <gtest/gtest.h>

namespace peerlab::peer {
namespace {

using namespace std::chrono_literals;
using clock = admission_policy::clock;

protocol::endpoint at(const char* text) {
  return *protocol::parse_endpoint(text);
}

TEST(Admission, AdmitsEveryoneWhileThePoolHasRoom) {
  admission<int> pool(4, 16, 64);
  const auto t = clock::time_point{} + 1h;
  for (int i = 0; i < 4; ++i) {
    const auto v = pool.admit(i, at("127.0.0.1:1000"), t);
    EXPECT_TRUE(v.admitted);
    EXPECT_FALSE(v.evicted);
  }
  EXPECT_EQ(pool.pending(), 4u);
}

TEST(Admission, ANewcomerEvictsTheOldestOfTheAddressHoldingTheMost) {
  admission<int> pool(4, 16, 64);
  auto t = clock::time_point{} + 1h;
  pool.admit(1, at("10.0.0.1:1"), t += 1ms);  // the flood
  pool.admit(2, at("10.0.0.2:1"), t += 1ms);  // someone else, older than most of the flood
  pool.admit(3, at("10.0.0.1:2"), t += 1ms);
  pool.admit(4, at("10.0.0.1:3"), t += 1ms);
  const auto v = pool.admit(5, at("10.0.0.3:1"), t += 1ms);
  ASSERT_TRUE(v.admitted);
  ASSERT_TRUE(v.evicted);
  EXPECT_EQ(*v.evicted, 1);  // not 2, although 2 is older than 3 and 4
}

TEST(Admission, AFloodingAddressChurnsOnlyItsOwnConnections) {
  admission<int> pool(64, 1000, 1000);  // no rate bound here
  auto t = clock::time_point{} + 1h;
  int next = 0;
  for (; next < 64; ++next)
    pool.admit(next, at("10.0.0.1:1"), t += 1ms);
  const int honest = 1000;
  ASSERT_TRUE(pool.admit(honest, at("10.0.0.9:1"), t += 1ms).admitted);
  // The flood re-opens every connection it loses, many times over: the
  // honest newcomer keeps its place.
  for (int round = 0; round < 500; ++round) {
    const auto v = pool.admit(next++, at("10.0.0.1:1"), t += 1ms);
    ASSERT_TRUE(v.admitted);
    ASSERT_TRUE(v.evicted);
    EXPECT_NE(*v.evicted, honest);
  }
}

TEST(Admission, OneAddressAloneEvictsItsOwnOldest) {
  // Classroom nodes on one address: the oldest pending one makes room.
  admission<int> pool(3, 16, 64);
  auto t = clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i)
    pool.admit(i, at("127.0.0.1:1"), t += 1ms);
  const auto v = pool.admit(3, at("127.0.0.1:1"), t += 1ms);
  ASSERT_TRUE(v.admitted);
  EXPECT_EQ(v.evicted, 0);
}

TEST(Admission, AnAddressOverItsRateMayNotEvictWhenThePoolIsFull) {
  admission<int> pool(2, 1, 3);  // 1 a second after a burst of 3
  auto t = clock::time_point{} + 1h;
  EXPECT_TRUE(pool.admit(1, at("10.0.0.1:1"), t).admitted);
  EXPECT_TRUE(pool.admit(2, at("10.0.0.1:1"), t).admitted);
  EXPECT_TRUE(pool.admit(3, at("10.0.0.1:1"), t).admitted);  // the burst's last token: evicts 1
  const auto refused = pool.admit(4, at("10.0.0.1:1"), t);
  EXPECT_FALSE(refused.admitted);
  EXPECT_FALSE(refused.evicted);
  EXPECT_NE(refused.refusal, nullptr);
  // Another address is not held to the first one's rate.
  EXPECT_TRUE(pool.admit(5, at("10.0.0.2:1"), t).admitted);
  // A second later the first address has a token again.
  EXPECT_TRUE(pool.admit(6, at("10.0.0.1:1"), t + 1s).admitted);
}

TEST(Admission, RateOnlyBitesWhenThePoolIsFull) {
  admission<int> pool(100, 1, 2);
  auto t = clock::time_point{} + 1h;
  for (int i = 0; i < 50; ++i)  // 50 classroom nodes behind one address, all at once
    EXPECT_TRUE(pool.admit(i, at("127.0.0.1:1"), t).admitted);
}

TEST(Admission, FinishedFreesAPlace) {
  admission<int> pool(2, 16, 64);
  const auto t = clock::time_point{} + 1h;
  pool.admit(1, at("10.0.0.1:1"), t);
  pool.admit(2, at("10.0.0.1:1"), t);
  pool.finished(1);
  pool.finished(42);  // unknown (an outbound connection): nothing happens
  const auto v = pool.admit(3, at("10.0.0.2:1"), t);
  EXPECT_TRUE(v.admitted);
  EXPECT_FALSE(v.evicted);
  EXPECT_EQ(pool.pending(), 2u);
}

TEST(HandshakeRates, ForgetsQuietAddressesSoTheMapStaysSmall) {
  admission_policy::handshake_rates rates(10, 20);
  auto t = clock::time_point{} + 1h;
  for (int i = 0; i < 5000; ++i) {
    protocol::endpoint e = at("10.0.0.1:0");
    e.ip[2] = static_cast<std::uint8_t>(i >> 8);
    e.ip[3] = static_cast<std::uint8_t>(i);
    rates.take(e, t += 10s);  // each address quiet long enough to refill
  }
  EXPECT_LE(rates.tracked(), 1025u);
}

}  // namespace
}  // namespace peerlab::peer

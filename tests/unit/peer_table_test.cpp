// Discovery bookkeeping: backoff, forgetting, bounds. Time is passed in.

#include "peer/peer_table.hpp"

#include <gtest/gtest.h>

namespace peerlab::peer {
namespace {

using namespace std::chrono_literals;
using origin = peer_table::origin;

protocol::endpoint address(int i) {
  return *protocol::parse_endpoint("127.0.0." + std::to_string(i % 250 + 1) + ":" +
                                   std::to_string(1000 + i));
}

const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

TEST(PeerTable, NewAddressIsDueAtOnceAndOnlyOnce) {
  peer_table table({});
  EXPECT_TRUE(table.add(address(1), origin::learned, t0));
  EXPECT_FALSE(table.add(address(1), origin::learned, t0));
  EXPECT_EQ(table.take_due(t0, 10).size(), 1u);
  EXPECT_TRUE(table.take_due(t0, 10).empty()) << "a dialing address is not handed out twice";
}

TEST(PeerTable, NextDueIsTheEarliestIdleAddressSoAnIdleDialerCanSleep) {
  discovery_settings s;
  s.initial_backoff = 1s;
  peer_table table(s);
  EXPECT_FALSE(table.next_due()) << "nothing known: nothing to wake for";
  table.add(address(1), origin::learned, t0);
  table.add(address(2), origin::learned, t0 + 5s);
  EXPECT_EQ(table.next_due(), t0);
  ASSERT_EQ(table.take_due(t0, 1).size(), 1u);  // address 1, now dialing
  EXPECT_EQ(table.next_due(), t0 + 5s) << "a dialing address is not due";
  table.dial_failed(address(1), t0 + 2s);  // due again 1 s later
  EXPECT_EQ(table.next_due(), t0 + 3s);
  table.connected(address(1), t0 + 3s);
  table.connected(address(2), t0 + 3s);
  EXPECT_FALSE(table.next_due()) << "every address connected: nothing due, ever";
}

TEST(PeerTable, FailedDialsBackOffExponentiallyUpToTheCap) {
  discovery_settings s;
  s.initial_backoff = 1s;
  s.max_backoff = 8s;
  s.max_failures_before_forgetting = 100;
  peer_table table(s);
  table.add(address(1), origin::learned, t0);
  auto now = t0;
  for (const auto expected : {1s, 2s, 4s, 8s, 8s, 8s}) {
    ASSERT_EQ(table.take_due(now, 1).size(), 1u);
    table.dial_failed(address(1), now);
    EXPECT_TRUE(table.take_due(now + expected - 1ms, 1).empty());
    now += expected;
  }
  EXPECT_EQ(table.take_due(now, 1).size(), 1u);
}

TEST(PeerTable, LearnedAddressIsForgottenAfterRepeatedFailuresConfiguredOneIsNot) {
  discovery_settings s;
  s.max_failures_before_forgetting = 3;
  peer_table table(s);
  table.add(address(1), origin::learned, t0);
  table.add(address(2), origin::configured, t0);
  auto now = t0;
  for (int i = 0; i < 5; ++i) {
    for (const auto& a : table.take_due(now, 10))
      table.dial_failed(a, now);
    now += 1h;
  }
  EXPECT_EQ(table.entries().count(address(1)), 0u);
  EXPECT_EQ(table.entries().count(address(2)), 1u);
}

TEST(PeerTable, ConnectedAddressIsNotDialedAndIsRetriedSoonAfterDisconnect) {
  discovery_settings s;
  s.initial_backoff = 1s;
  peer_table table(s);
  table.add(address(1), origin::learned, t0);
  table.connected(address(1), t0);
  EXPECT_TRUE(table.take_due(t0 + 1h, 10).empty());
  table.disconnected(address(1), t0);
  EXPECT_TRUE(table.take_due(t0 + 999ms, 10).empty());
  EXPECT_EQ(table.take_due(t0 + 1s, 10).size(), 1u);
}

TEST(PeerTable, OwnAddressIsNeverDialedAgain) {
  peer_table table({});
  table.add(address(1), origin::configured, t0);
  table.mark_self(address(1));
  table.dial_failed(address(1), t0);
  table.disconnected(address(1), t0);
  EXPECT_TRUE(table.take_due(t0 + 24h, 10).empty());
}

TEST(PeerTable, StaysWithinItsBoundEvictingOnlyFailedLearnedAddresses) {
  discovery_settings s;
  s.max_known_peers = 10;
  peer_table table(s);
  for (int i = 0; i < 10; ++i)
    table.add(address(i), origin::learned, t0);
  EXPECT_FALSE(table.add(address(100), origin::learned, t0)) << "no failed entry to evict";
  EXPECT_EQ(table.size(), 10u);
  const auto due = table.take_due(t0, 1);
  table.dial_failed(due.front(), t0);
  EXPECT_TRUE(table.add(address(101), origin::learned, t0));
  EXPECT_EQ(table.size(), 10u);
  EXPECT_EQ(table.entries().count(due.front()), 0u);
  for (int i = 200; i < 5000; ++i)
    table.add(address(i), origin::learned, t0);
  EXPECT_LE(table.size(), 10u);
}

TEST(PeerTable, ForgetDropsAnIdleAddressButNotOneInUse) {
  peer_table table({});
  table.add(address(1), origin::configured, t0);
  table.add(address(2), origin::configured, t0);
  table.connected(address(2), t0);
  EXPECT_TRUE(table.forget(address(1)));
  EXPECT_FALSE(table.forget(address(2))) << "connected: kept";
  EXPECT_FALSE(table.forget(address(3))) << "unknown";
  EXPECT_EQ(table.size(), 1u);
}

}  // namespace
}  // namespace peerlab::peer

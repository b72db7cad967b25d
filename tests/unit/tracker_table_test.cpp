// The tracker's table: who is returned to whom, what replaces what, what
// expires, and that every list stays within its limit. The clock is a
// variable: nothing here sleeps.

#include "peer/tracker_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

namespace peerlab::peer {
namespace {

namespace bt = protocol::bt;
using namespace std::chrono_literals;
using clock = tracker_table::clock;

bt::sha1_digest hash_of(std::uint8_t n) {
  bt::sha1_digest h{};
  h.fill(n);
  return h;
}

bt::peer_id id_of(std::uint32_t n) {
  bt::peer_id id{};
  id.fill('x');
  for (int i = 0; i < 4; ++i)
    id[16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return id;
}

protocol::endpoint at(const std::string& text) {
  return *protocol::parse_endpoint(text);
}

bt::announce_request leecher(std::uint32_t id, std::uint8_t torrent = 1) {
  bt::announce_request r;
  r.info_hash = hash_of(torrent);
  r.peer = id_of(id);
  r.port = 6881;
  r.left = 1000;
  r.event = bt::announce_event::started;
  return r;
}

bt::announce_request seeder(std::uint32_t id, std::uint8_t torrent = 1) {
  auto r = leecher(id, torrent);
  r.left = 0;
  return r;
}

std::set<protocol::endpoint> addresses(const bt::announce_response& a) {
  std::set<protocol::endpoint> out;
  for (const auto& p : a.peers)
    out.insert(p.address);
  return out;
}

class TrackerTable : public ::testing::Test {
 protected:
  clock::time_point now = clock::time_point{} + 1000h;
  tracker_settings settings;
  std::unique_ptr<tracker_table> table = std::make_unique<tracker_table>(settings, 7);

  void reset(tracker_settings s) {
    settings = s;
    table = std::make_unique<tracker_table>(settings, 7);
  }
  bt::announce_response announce(const bt::announce_request& r, const std::string& from,
                                 std::optional<protocol::endpoint> self = std::nullopt) {
    return table->announce(r, at(from), self, now);
  }
};

TEST_F(TrackerTable, AnswersTheOthersButNeverTheAskerWithIntervalAndCounts) {
  auto first = announce(seeder(1), "10.0.0.1:6881");
  EXPECT_TRUE(first.failure_reason.empty());
  EXPECT_TRUE(first.peers.empty());
  EXPECT_EQ(first.interval, 120u);
  EXPECT_EQ(first.min_interval, 30u);
  EXPECT_EQ(first.complete, 1u);
  EXPECT_EQ(first.incomplete, 0u);

  const auto second = announce(leecher(2), "10.0.0.2:6881");
  EXPECT_EQ(addresses(second), std::set{at("10.0.0.1:6881")});
  ASSERT_TRUE(second.peers[0].id.has_value());
  EXPECT_EQ(*second.peers[0].id, id_of(1));
  EXPECT_EQ(second.complete, 1u);
  EXPECT_EQ(second.incomplete, 1u);

  // Another torrent's peers are not this one's.
  EXPECT_TRUE(announce(leecher(3, 2), "10.0.0.3:6881").peers.empty());
  EXPECT_EQ(table->stats().torrents, 2u);
  EXPECT_EQ(table->stats().peers, 3u);
  EXPECT_EQ(table->stats().seeders, 1u);
}

TEST_F(TrackerTable, AReannounceReplacesTheClientsEntry) {
  announce(leecher(1), "10.0.0.1:6881");
  auto moved = leecher(1);
  moved.port = 7000;  // same client, new port
  announce(moved, "10.0.0.1:7000");
  // Restarted with a new peer id on the same address and port.
  announce(leecher(9), "10.0.0.1:7000");
  EXPECT_EQ(table->stats().peers, 1u);
  const auto other = announce(leecher(2), "10.0.0.2:6881");
  ASSERT_EQ(other.peers.size(), 1u);
  EXPECT_EQ(other.peers[0].address, at("10.0.0.1:7000"));
  EXPECT_EQ(*other.peers[0].id, id_of(9));
}

TEST_F(TrackerTable, NobodyCanReplaceOrStopAnotherAddresssEntry) {
  announce(leecher(1), "10.0.0.1:6881");
  // The victim's peer id (learned from a dictionary answer) from elsewhere.
  auto stop = leecher(1);
  stop.event = bt::announce_event::stopped;
  announce(stop, "10.6.6.6:6881");
  const auto answer = announce(leecher(2), "10.0.0.2:6881");
  EXPECT_TRUE(addresses(answer).contains(at("10.0.0.1:6881")));

  // The client itself may stop.
  announce(stop, "10.0.0.1:6881");
  EXPECT_FALSE(addresses(announce(leecher(2), "10.0.0.2:6881")).contains(at("10.0.0.1:6881")));
}

TEST_F(TrackerTable, StoppedLeavesAndAnEmptyTorrentIsForgotten) {
  announce(leecher(1), "10.0.0.1:6881");
  auto stop = leecher(1);
  stop.event = bt::announce_event::stopped;
  const auto answer = announce(stop, "10.0.0.1:6881");
  EXPECT_TRUE(answer.peers.empty());
  EXPECT_EQ(table->stats().peers, 0u);
  EXPECT_EQ(table->stats().torrents, 0u);
}

TEST_F(TrackerTable, EntriesExpireAfterTheirLifetimeUnlessRenewed) {
  announce(leecher(1), "10.0.0.1:6881");
  announce(leecher(2), "10.0.0.2:6881");
  now += settings.entry_lifetime - 1s;
  announce(leecher(2), "10.0.0.2:6881");  // renewed; 1 is not
  now += 2s;
  EXPECT_EQ(addresses(announce(leecher(3), "10.0.0.3:6881")), std::set{at("10.0.0.2:6881")});
  now += settings.entry_lifetime + 1s;
  table->expire(now);
  EXPECT_EQ(table->stats().peers, 0u);
  EXPECT_EQ(table->stats().torrents, 0u);
}

TEST_F(TrackerTable, NumwantHasADefaultAndACapAndZeroMeansNone) {
  for (std::uint32_t i = 1; i <= 300; ++i) {
    announce(leecher(i),
             "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":6881");
  }
  auto ask = leecher(1000);
  EXPECT_EQ(announce(ask, "10.1.0.1:6881").peers.size(), settings.default_numwant);
  ask.numwant = 1'000'000;
  EXPECT_EQ(announce(ask, "10.1.0.1:6881").peers.size(), settings.max_numwant);
  ask.numwant = 0;
  EXPECT_TRUE(announce(ask, "10.1.0.1:6881").peers.empty());
  ask.numwant = 5;
  const auto five = announce(ask, "10.1.0.1:6881");
  EXPECT_EQ(five.peers.size(), 5u);
  EXPECT_EQ(addresses(five).size(), 5u);  // distinct
}

TEST_F(TrackerTable, AnswersSampleEveryPeerFairly) {
  for (std::uint32_t i = 1; i <= 100; ++i)
    announce(leecher(i), "10.0.1." + std::to_string(i) + ":6881");
  std::map<protocol::endpoint, int> seen;
  auto ask = leecher(1000);
  ask.numwant = 10;
  for (int round = 0; round < 200; ++round) {
    for (const auto& p : announce(ask, "10.9.9.9:6881").peers)
      ++seen[p.address];
  }
  // 2000 picks over 100 peers: each about 20 times, none starved.
  EXPECT_EQ(seen.size(), 100u);
  for (const auto& [address, n] : seen)
    EXPECT_GE(n, 5) << protocol::to_string(address);
}

TEST_F(TrackerTable, ASeederIsToldOnlyOfLeechers) {
  announce(seeder(1), "10.0.0.1:6881");
  announce(leecher(2), "10.0.0.2:6881");
  EXPECT_EQ(addresses(announce(seeder(3), "10.0.0.3:6881")), std::set{at("10.0.0.2:6881")});
}

TEST_F(TrackerTable, CompletedMakesASeederAndCountsADownload) {
  announce(leecher(1), "10.0.0.1:6881");
  auto done = leecher(1);
  done.event = bt::announce_event::completed;
  done.left = 0;
  const auto answer = announce(done, "10.0.0.1:6881");
  EXPECT_EQ(answer.complete, 1u);
  EXPECT_EQ(answer.incomplete, 0u);
  announce(done, "10.0.0.1:6881");  // a repeat counts once
  const auto counts = table->scrape(hash_of(1), now);
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(counts->complete, 1u);
  EXPECT_EQ(counts->downloaded, 1u);
  EXPECT_FALSE(table->scrape(hash_of(9), now).has_value());
}

TEST_F(TrackerTable, IPv4AskersGetIPv4PeersFirstThenIPv6) {
  announce(leecher(1), "10.0.0.1:6881");
  announce(leecher(2), "[2001:db8::2]:6881");
  announce(leecher(3), "[2001:db8:1::3]:6881");
  auto ask = leecher(9);
  ask.numwant = 1;
  EXPECT_EQ(addresses(announce(ask, "10.0.0.9:6881")), std::set{at("10.0.0.1:6881")});
  ask.numwant = 2;
  const auto v6 = announce(ask, "[2001:db8:2::9]:6881");
  EXPECT_EQ(addresses(v6), (std::set{at("[2001:db8::2]:6881"), at("[2001:db8:1::3]:6881")}));
  ask.numwant = 10;  // 10.0.0.1 and three IPv6 peers (the IPv6 asker too: another address)
  EXPECT_EQ(announce(ask, "10.0.0.9:6881").peers.size(), 4u);
}

TEST_F(TrackerTable, LoopbackPeersAreNotGivenToAnotherMachine) {
  announce(leecher(1), "127.0.0.1:6881");
  announce(leecher(2), "10.0.0.2:6881");
  EXPECT_EQ(addresses(announce(leecher(3), "10.0.0.3:6881")), std::set{at("10.0.0.2:6881")});
  EXPECT_EQ(announce(leecher(4), "127.0.0.4:6881").peers.size(), 3u);
}

TEST_F(TrackerTable, OneAddressHoldsAtMostItsShareOfEntries) {
  auto s = settings;
  s.max_entries_per_address = 10;
  reset(s);
  for (std::uint32_t i = 0; i < 50; ++i) {
    auto r = leecher(i, static_cast<std::uint8_t>(i % 3));
    r.port = static_cast<std::uint16_t>(1000 + i);
    const auto answer = announce(r, "10.6.6.6:" + std::to_string(1000 + i));
    EXPECT_EQ(answer.warning_message.empty(), i < 10) << i;
  }
  EXPECT_EQ(table->stats().peers, 10u);
  // An IPv6 flood counts per /64, whatever the low bits.
  for (std::uint32_t i = 0; i < 50; ++i)
    announce(leecher(100 + i), "[2001:db8:6:6::" + std::to_string(i + 1) + "]:6881");
  EXPECT_EQ(table->stats().peers, 20u);
  // Others still get in.
  EXPECT_TRUE(announce(leecher(999), "10.0.0.1:6881").warning_message.empty());
  EXPECT_EQ(table->stats().peers, 21u);
}

TEST_F(TrackerTable, TorrentsPeersPerTorrentAndAllPeersAreCapped) {
  auto s = settings;
  s.max_torrents = 3;
  s.max_peers_per_torrent = 4;
  s.max_peers = 10;
  reset(s);
  for (std::uint32_t i = 0; i < 20; ++i)
    announce(leecher(i, 1), "10.0.1." + std::to_string(i + 1) + ":6881");
  EXPECT_EQ(table->stats().peers, 4u);
  // Not kept, but still answered: the client can download all the same.
  const auto full = announce(leecher(50, 1), "10.0.9.9:6881");
  EXPECT_EQ(full.warning_message, "not registered: this torrent has too many peers");
  EXPECT_EQ(full.peers.size(), 4u);

  for (std::uint8_t t = 2; t < 10; ++t)
    announce(leecher(100 + t, t), "10.0.2." + std::to_string(t) + ":6881");
  EXPECT_EQ(table->stats().torrents, 3u);
  for (std::uint32_t i = 0; i < 20; ++i)
    announce(leecher(200 + i, 2), "10.0.3." + std::to_string(i + 1) + ":6881");
  for (std::uint32_t i = 0; i < 20; ++i)
    announce(leecher(300 + i, 3), "10.0.4." + std::to_string(i + 1) + ":6881");
  EXPECT_EQ(table->stats().peers, 10u);

  // Expired entries make room again.
  now += s.entry_lifetime + 1s;
  EXPECT_TRUE(announce(leecher(400, 9), "10.0.5.1:6881").warning_message.empty());
  EXPECT_EQ(table->stats().torrents, 1u);
}

TEST_F(TrackerTable, ThisNodeIsASeederOfWhatItSharesWhereTheClientReachedIt) {
  table->set_local_torrents([](const auto& h) { return h == hash_of(1); });
  const auto self = at("192.168.1.10:7070");
  const auto answer = announce(leecher(1), "192.168.1.20:6881", self);
  ASSERT_EQ(answer.peers.size(), 1u);
  EXPECT_EQ(answer.peers[0].address, self);
  EXPECT_EQ(answer.complete, 1u);
  EXPECT_EQ(answer.incomplete, 1u);
  // Not for torrents it does not share.
  EXPECT_TRUE(announce(leecher(2, 2), "192.168.1.20:6881", self).peers.empty());
  // Counted in a scrape, even before anyone announced.
  table->set_local_torrents([](const auto& h) { return h == hash_of(1) || h == hash_of(3); });
  const auto counts = table->scrape(hash_of(3), now);
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(counts->complete, 1u);
  // Never listed to itself.
  EXPECT_TRUE(announce(seeder(3, 3), "192.168.1.10:7070", self).peers.empty());
}

TEST_F(TrackerTable, RequestsPerAddressAreRateLimitedAfterABurst) {
  auto s = settings;
  s.request_burst_per_address = 5;
  s.requests_per_second_per_address = 1;
  reset(s);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(table->allow_request(at("10.0.0.1:1"), now));
  EXPECT_FALSE(table->allow_request(at("10.0.0.1:2"), now));
  EXPECT_TRUE(table->allow_request(at("10.0.0.2:1"), now));  // others are not affected
  // One IPv6 /64 is one address.
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(table->allow_request(at("[2001:db8::" + std::to_string(i + 1) + "]:1"), now));
  EXPECT_FALSE(table->allow_request(at("[2001:db8::ffff]:1"), now));
  now += 1s;
  EXPECT_TRUE(table->allow_request(at("10.0.0.1:1"), now));
  EXPECT_FALSE(table->allow_request(at("10.0.0.1:1"), now));
}

}  // namespace
}  // namespace peerlab::peer

// Tracker messages: the announce query a BitTorrent client sends (and we
// send), both answer models, and BEP 15's UDP datagrams.

#include "protocol/tracker.hpp"

#include <gtest/gtest.h>

#include "protocol/hex.hpp"
#include "test_data.hpp"

namespace peerlab::protocol::bt {
namespace {

// An announce in the form aria2c 1.36 sends it.
constexpr std::string_view aria2_query =
    "info_hash=%96%99%21%5B%86%B2a%DAg%20%8D%01%00%7Foz%27%A7p%FB"
    "&peer_id=A2-1-36-0-%2B%DB%EF%02%19%C8%8A%19%AC%12"
    "&uploaded=0&downloaded=0&left=3000000&compact=1&key=a1b2c3d4&event=started"
    "&numwant=50&no_peer_id=1&port=6881&supportcrypto=1";

TEST(TrackerQuery, ParsesWhatAria2Sends) {
  const auto r = parse_announce_query(aria2_query);
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(to_hex(r->info_hash), "9699215b86b261da67208d01007f6f7a27a770fb");
  EXPECT_EQ(std::string(r->peer.begin(), r->peer.begin() + 10), "A2-1-36-0-");
  EXPECT_EQ(r->port, 6881);
  EXPECT_EQ(r->left, 3'000'000u);
  EXPECT_EQ(r->event, announce_event::started);
  EXPECT_TRUE(r->compact);
  EXPECT_TRUE(r->no_peer_id);
  EXPECT_EQ(r->numwant, 50u);
  EXPECT_EQ(r->key, "a1b2c3d4");
}

TEST(TrackerQuery, RoundTripsThroughOurOwnQuery) {
  auto r = *parse_announce_query(aria2_query);
  r.ip = "10.0.0.5";
  r.event = announce_event::completed;
  const auto back = parse_announce_query(make_announce_query(r));
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, r);
}

TEST(TrackerQuery, RefusesHostileQueries) {
  const std::string hash = "info_hash=%96%99%21%5B%86%B2a%DAg%20%8D%01%00%7Foz%27%A7p%FB";
  const std::string peer = "&peer_id=-PL0001-abcdefghijkl";
  const std::string ok = hash + peer + "&port=1";
  EXPECT_TRUE(parse_announce_query(ok).ok());
  for (const std::string& bad : {
           std::string("port=1"), hash + "&port=1", hash + peer,         // missing fields
           "info_hash=abc" + peer + "&port=1",                           // short hash
           hash + "%00" + peer + "&port=1",                              // 21 bytes
           ok + "&port=2",                                               // twice
           hash + peer + "&port=0", hash + peer + "&port=65536",         // port range
           ok + "&left=-1", ok + "&uploaded=18446744073709551616",       // not a u64
           ok + "&event=exploded", ok + "&compact=yes", ok + "&ip=%zz",  // values
           ok + "&" + std::string(5000, 'x'),                            // too long
       }) {
    EXPECT_FALSE(parse_announce_query(bad).ok()) << bad;
  }
  std::string many = ok;
  for (int i = 0; i < 70; ++i)
    many += "&k" + std::to_string(i) + "=1";
  EXPECT_FALSE(parse_announce_query(many).ok());
}

announce_response example_response() {
  announce_response r;
  r.interval = 1800;
  r.min_interval = 60;
  r.complete = 1;
  r.incomplete = 2;
  r.peers.push_back({*parse_endpoint("127.0.0.2:6881"), std::nullopt});
  r.peers.push_back({*parse_endpoint("[::1]:7070"), std::nullopt});
  return r;
}

TEST(TrackerResponse, CompactAnswerAsBep23And7Show) {
  const auto bytes = encode_announce_response(example_response(), true);
  const std::string expected =
      "d8:completei1e10:incompletei2e8:intervali1800e12:min intervali60e5:peers6:" +
      std::string("\x7f\x00\x00\x02\x1a\xe1", 6) + "6:peers618:" + std::string(15, '\0') +
      "\x01\x1b\x9e" + "e";
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), expected);
  const auto back = parse_announce_response(bytes);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, example_response());
}

TEST(TrackerResponse, DictionaryModelRoundTripsWithPeerIds) {
  auto r = example_response();
  r.peers[0].id = peer_id{};
  r.peers[0].id->fill('p');
  const auto bytes = encode_announce_response(r, false);
  const auto back = parse_announce_response(bytes);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, r);
}

TEST(TrackerResponse, FailureReasonIsAnAnswerNotAnError) {
  announce_response r;
  r.failure_reason = "unknown info_hash";
  const auto bytes = encode_announce_response(r, true);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "d14:failure reason17:unknown info_hashe");
  const auto back = parse_announce_response(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->failure_reason, "unknown info_hash");
}

TEST(TrackerResponse, RefusesMalformedAnswersAndSkipsUselessPeers) {
  EXPECT_FALSE(parse_announce_response(bytes_of("d5:peers5:abcdee")).ok());  // no interval
  EXPECT_FALSE(parse_announce_response(bytes_of("d8:intervali1e5:peers5:abcdee")).ok());
  EXPECT_FALSE(parse_announce_response(bytes_of("d8:intervali1e6:peers67:abcdefgee")).ok());
  EXPECT_FALSE(parse_announce_response(bytes_of("d8:intervali1e5:peersi1ee")).ok());
  EXPECT_FALSE(parse_announce_response(bytes_of("<html>")).ok());
  const auto skipped = parse_announce_response(
      bytes_of("d8:intervali1e5:peersld2:ip11:example.com4:porti1eed2:ip3:::14:porti0eeee"));
  ASSERT_TRUE(skipped.ok());
  EXPECT_TRUE(skipped->peers.empty());
}

TEST(TrackerResponse, KeepsAtMostTheMaximumOfPeers) {
  std::string peers;
  for (std::size_t i = 0; i < max_tracker_peers + 10; ++i)
    peers += std::string("\x0a\x00\x00\x01\x1a\xe1", 6);
  const auto bytes =
      bytes_of("d8:intervali1e5:peers" + std::to_string(peers.size()) + ":" + peers + "e");
  const auto r = parse_announce_response(bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->peers.size(), max_tracker_peers);
}

TEST(TrackerUdp, DatagramsAsBep15Shows) {
  EXPECT_EQ(to_hex(encode_udp_connect(0x01020304)),
            "0000041727101980"
            "00000000"
            "01020304");
  udp_announce_request a;
  a.connection_id = 0x1122334455667788;
  a.transaction_id = 7;
  a.announce = *parse_announce_query(aria2_query);
  const auto bytes = encode_udp_announce(a);
  EXPECT_EQ(to_hex(std::span(bytes).first(16)),
            "1122334455667788"
            "00000001"
            "00000007");
  EXPECT_EQ(to_hex(std::span(bytes).subspan(16, 20)), "9699215b86b261da67208d01007f6f7a27a770fb");
  EXPECT_EQ(to_hex(std::span(bytes).subspan(56, 24)),
            "0000000000000000"
            "00000000002dc6c0"
            "0000000000000000");  // down, left, up
  EXPECT_EQ(to_hex(std::span(bytes).subspan(80, 18)),
            "00000002"
            "00000000"
            "a1b2c3d4"
            "00000032"
            "1ae1");
}

TEST(TrackerUdp, ParsesConnectAnnounceAndErrorAnswers) {
  const std::vector<std::uint8_t> connect = {0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8};
  const auto c = parse_udp_response(connect, ip_family::v4);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<udp_connect_response>(*c).connection_id, 0x0102030405060708u);
  EXPECT_EQ(std::get<udp_connect_response>(*c).transaction_id, 9u);
  const std::vector<std::uint8_t> announce = {0, 0, 0, 1, 0, 0, 0, 9,   0, 0, 7, 8,    0,
                                              0, 0, 2, 0, 0, 0, 1, 127, 0, 0, 2, 0x1a, 0xe1};
  const auto a = parse_udp_response(announce, ip_family::v4);
  ASSERT_TRUE(a.ok());
  const auto& ar = std::get<udp_announce_response>(*a);
  EXPECT_EQ(ar.interval, 1800u);
  EXPECT_EQ(ar.leechers, 2u);
  EXPECT_EQ(ar.seeders, 1u);
  ASSERT_EQ(ar.peers.size(), 1u);
  EXPECT_EQ(to_string(ar.peers[0]), "127.0.0.2:6881");
  EXPECT_FALSE(parse_udp_response(announce, ip_family::v6).ok());  // 6 bytes is no IPv6 peer
  const std::vector<std::uint8_t> err = {0, 0, 0, 3, 0, 0, 0, 9, 'n', 'o'};
  EXPECT_EQ(std::get<udp_error>(*parse_udp_response(err, ip_family::v4)).message, "no");
  EXPECT_FALSE(parse_udp_response(std::vector<std::uint8_t>{0, 0, 0, 0}, ip_family::v4).ok());
  EXPECT_FALSE(parse_udp_response(std::vector<std::uint8_t>(16, 0xff), ip_family::v4).ok());
}

}  // namespace
}  // namespace peerlab::protocol::bt

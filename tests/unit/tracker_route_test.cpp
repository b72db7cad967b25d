// GET /announce and /scrape as a BitTorrent client sees them: bencoded
// answers in both models, failures as `failure reason`, and the addresses
// taken from the connection, never from the query.

#include "http/tracker_route.hpp"

#include <gtest/gtest.h>

#include "protocol/bencode.hpp"
#include "protocol/tracker.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::http {
namespace {

namespace bt = protocol::bt;
using clock = std::chrono::steady_clock;

protocol::endpoint at(const std::string& text) {
  return *protocol::parse_endpoint(text);
}

bt::announce_request announce_of(char who, std::uint16_t port, bool compact = true) {
  bt::announce_request r;
  r.info_hash.fill(0xab);
  r.peer.fill(static_cast<std::uint8_t>(who));
  r.port = port;
  r.left = 100;
  r.compact = compact;
  return r;
}

class TrackerRoute : public ::testing::Test {
 protected:
  peer::tracker_table table{{}, 3};
  clock::time_point now = clock::time_point{} + std::chrono::hours(10);
  protocol::endpoint peer_listen = at("[::]:7070");

  response get(const std::string& target, const std::string& from,
               const std::string& to = "192.168.1.10:8080", const std::string& method = "GET") {
    request req;
    req.method = method;
    req.target = target;
    req.remote = at(from);
    req.local = at(to);
    return serve_tracker(table, req, peer_listen, now);
  }
  bt::announce_response announce(const bt::announce_request& r, const std::string& from) {
    const auto resp = get("/announce?" + bt::make_announce_query(r), from);
    EXPECT_EQ(resp.status, 200);
    const auto parsed = bt::parse_announce_response(
        {reinterpret_cast<const std::uint8_t*>(resp.body.data()), resp.body.size()});
    EXPECT_TRUE(parsed.ok()) << parsed.error_message();
    return parsed.ok() ? *parsed : bt::announce_response{};
  }
  std::string failure_of(const std::string& target) {
    const auto resp = get(target, "192.168.1.20:40000");
    EXPECT_EQ(resp.status, 200);
    const auto parsed = bt::parse_announce_response(
        {reinterpret_cast<const std::uint8_t*>(resp.body.data()), resp.body.size()});
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? parsed->failure_reason : "";
  }
};

TEST_F(TrackerRoute, CompactAnswerListsThePeerAtItsConnectionsAddress) {
  announce(announce_of('a', 6881), "192.168.1.20:40000");
  const auto resp =
      get("/announce?" + bt::make_announce_query(announce_of('b', 6882)), "192.168.1.21:40001");
  const std::string body = resp.body;
  // d8:completei0e10:incompletei2e8:intervali120e12:min intervali30e5:peers6:…e
  EXPECT_NE(body.find("5:peers6:\xc0\xa8\x01\x14\x1a\xe1"), std::string::npos) << body;
  EXPECT_EQ(body.find("6:peers6"), std::string::npos);  // no IPv6 peers: no key
  EXPECT_NE(body.find("8:intervali120e"), std::string::npos);
  EXPECT_NE(body.find("12:min intervali30e"), std::string::npos);
  EXPECT_NE(body.find("10:incompletei2e"), std::string::npos);
  ASSERT_FALSE(resp.headers.empty());
  EXPECT_EQ(resp.headers[0].first, "Content-Type");
  EXPECT_EQ(resp.headers[0].second, "text/plain");
}

TEST_F(TrackerRoute, DictionaryModelCarriesPeerIdsUnlessNoPeerId) {
  announce(announce_of('a', 6881), "[2001:db8::20]:40000");
  auto ask = announce_of('b', 6882, false);
  const auto resp = get("/announce?" + bt::make_announce_query(ask), "192.168.1.21:40001");
  const auto decoded =
      bt::bdecode({reinterpret_cast<const std::uint8_t*>(resp.body.data()), resp.body.size()});
  ASSERT_TRUE(decoded.ok());
  const auto* peers = decoded->find("peers");
  ASSERT_TRUE(peers && peers->is_list());
  ASSERT_EQ(peers->as_list().size(), 1u);
  const auto& p = peers->as_list()[0];
  EXPECT_EQ(p.find_string("ip")->as_string(), "2001:db8::20");
  EXPECT_EQ(p.find_int("port")->as_int(), 6881);
  EXPECT_EQ(p.find_string("peer id")->as_string(), std::string(20, 'a'));

  ask.no_peer_id = true;
  const auto bare = announce(ask, "192.168.1.21:40001");
  ASSERT_EQ(bare.peers.size(), 1u);
  EXPECT_FALSE(bare.peers[0].id.has_value());
}

TEST_F(TrackerRoute, IPv6PeersGoInPeers6) {
  announce(announce_of('a', 6881), "[2001:db8::20]:40000");
  const auto resp = get("/announce?" + bt::make_announce_query(announce_of('b', 6882)),
                        "[2001:db8::21]:40001", "[2001:db8::10]:8080");
  EXPECT_NE(resp.body.find("5:peers0:"), std::string::npos) << resp.body;
  EXPECT_NE(resp.body.find("6:peers618:"), std::string::npos) << resp.body;
}

TEST_F(TrackerRoute, TheIpParameterCannotRegisterAThirdParty) {
  auto r = announce_of('a', 6881);
  r.ip = "203.0.113.7";
  announce(r, "192.168.1.20:40000");
  const auto seen = announce(announce_of('b', 6882), "192.168.1.21:40001");
  ASSERT_EQ(seen.peers.size(), 1u);
  EXPECT_EQ(seen.peers[0].address, at("192.168.1.20:6881"));
}

TEST_F(TrackerRoute, BadRequestsGetAFailureReason) {
  const auto good = bt::make_announce_query(announce_of('a', 6881));
  EXPECT_EQ(failure_of("/announce"), "announce query needs info_hash, peer_id and port");
  EXPECT_EQ(failure_of("/announce?info_hash=abc&peer_id=" + std::string(20, 'p') + "&port=1"),
            "info_hash is not 20 bytes");
  EXPECT_EQ(failure_of("/announce?info_hash=" + std::string(21, 'h') +
                       "&peer_id=" + std::string(20, 'p') + "&port=1"),
            "info_hash is not 20 bytes");
  EXPECT_EQ(failure_of("/announce?info_hash=" + std::string(20, 'h') +
                       "&peer_id=" + std::string(20, 'p')),
            "announce query needs info_hash, peer_id and port");
  EXPECT_EQ(failure_of("/announce?" + good + "&port=2"), "announce query repeats port");
  EXPECT_EQ(failure_of("/announce?" + good + "&numwant=-1"), "numwant is not a decimal number");
  EXPECT_EQ(failure_of("/announce?" + std::string(5000, 'x')), "announce query too long");
  EXPECT_EQ(get("/announce?" + good, "192.168.1.20:1", "192.168.1.10:8080", "POST").status, 405);
  EXPECT_EQ(table.stats().peers, 0u);
}

TEST_F(TrackerRoute, ScrapeCountsTheNamedTorrents) {
  auto done = announce_of('a', 6881);
  done.left = 0;
  done.event = bt::announce_event::completed;
  announce(done, "192.168.1.20:40000");
  announce(announce_of('b', 6882), "192.168.1.21:40000");
  const std::string hash(20, '\xab');
  const auto resp = get("/scrape?info_hash=" + protocol::percent_encode(hash) +
                            "&info_hash=" + protocol::percent_encode(std::string(20, 'z')),
                        "192.168.1.30:1");
  EXPECT_EQ(resp.body, "d5:filesd20:" + hash + "d8:completei1e10:downloadedi1e10:incompletei1eeee");
  EXPECT_EQ(failure_of("/scrape"), "name the torrents to scrape with info_hash");
  EXPECT_EQ(failure_of("/scrape?info_hash=x"), "info_hash is not 20 bytes");
}

TEST_F(TrackerRoute, AFloodFromOneAddressIsRefusedAfterItsBurst) {
  const auto good = "/announce?" + bt::make_announce_query(announce_of('a', 6881));
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const auto resp = get(good, "192.168.1.66:1");
    refused += resp.body.find("failure reason") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(refused, 300 - 200);
  EXPECT_EQ(get(good, "192.168.1.67:1").body.find("failure reason"), std::string::npos);
}

TEST_F(TrackerRoute, ThisNodeIsListedWhereTheClientReachedIt) {
  table.set_local_torrents([](const bt::sha1_digest& h) {
    bt::sha1_digest mine;
    mine.fill(0xab);
    return h == mine;
  });
  const auto answer = announce(announce_of('a', 6881), "192.168.1.20:40000");
  ASSERT_EQ(answer.peers.size(), 1u);
  EXPECT_EQ(answer.peers[0].address, at("192.168.1.10:7070"));
  EXPECT_EQ(answer.complete, 1u);
}

TEST(TrackerSelfAddress, ListeningAddressOrTheOneTheClientUsed) {
  const auto client = at("10.0.0.5:1");
  EXPECT_EQ(self_peer_address(at("10.0.0.1:7070"), at("10.0.0.2:8080"), client),
            at("10.0.0.1:7070"));
  EXPECT_EQ(self_peer_address(at("[::]:7070"), at("10.0.0.2:8080"), client), at("10.0.0.2:7070"));
  EXPECT_EQ(self_peer_address(at("0.0.0.0:7070"), at("10.0.0.2:8080"), client),
            at("10.0.0.2:7070"));
  EXPECT_EQ(self_peer_address(at("0.0.0.0:7070"), at("[2001:db8::1]:8080"), at("[2001:db8::5]:1")),
            std::nullopt);
  // A loopback peer socket is nothing to a client on another machine.
  EXPECT_EQ(self_peer_address(at("127.0.0.1:7070"), at("10.0.0.2:8080"), client), std::nullopt);
  EXPECT_EQ(self_peer_address(at("10.0.0.1:0"), at("10.0.0.2:8080"), client), std::nullopt);
}

}  // namespace
}  // namespace peerlab::http

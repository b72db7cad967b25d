// Several nodes in one process find each other, keep one connection per pair
// and drop connections to themselves.

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/ip/tcp.hpp>

#include "harness.hpp"

namespace peerlab::testing {
namespace {

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(Discovery, NodeToldOfOnePeerLearnsTheWholeSwarm) {
  harness h;
  auto& a = h.add_node(h.settings("a"));
  auto& b = h.add_node(h.settings("b", {a.listen_endpoint()}));
  auto& c = h.add_node(h.settings("c", {b.listen_endpoint()}));

  ASSERT_TRUE(
      h.wait_until([&] { return c.connections().size() == 2 && a.connections().size() == 2; }));
  const auto of_c = h.peer_ids(c);
  EXPECT_TRUE(contains(of_c, hex_id(a)));
  EXPECT_TRUE(contains(of_c, hex_id(b)));

  // A and C heard of each other through B and may both have dialed: one
  // connection survives, and both ends agree on its 4-tuple and direction.
  const auto a_side = h.run([&] { return a.connections(); });
  const auto c_side = h.run([&] { return c.connections(); });
  const auto at_a =
      std::find_if(a_side.begin(), a_side.end(), [&](auto& x) { return x.id == hex_id(c); });
  const auto at_c =
      std::find_if(c_side.begin(), c_side.end(), [&](auto& x) { return x.id == hex_id(a); });
  ASSERT_NE(at_a, a_side.end());
  ASSERT_NE(at_c, c_side.end());
  EXPECT_NE(at_a->dir, at_c->dir);
  EXPECT_EQ(at_a->local, at_c->remote);
  EXPECT_EQ(at_a->remote, at_c->local);
  // The accepting end's local address is its passive socket's.
  const auto& acceptor = at_a->dir == peer::direction::inbound ? *at_a : *at_c;
  const auto& acceptor_node = at_a->dir == peer::direction::inbound ? a : c;
  EXPECT_EQ(acceptor.local, acceptor_node.listen_endpoint());
  EXPECT_EQ(at_a->address, c.listen_endpoint());  // its IP + the port from its hello
  EXPECT_EQ(at_c->address, a.listen_endpoint());
}

TEST(Discovery, FullMeshStaysStableWithOneConnectionPerPair) {
  harness h;
  auto& a = h.add_node(h.settings("a"));
  auto& b = h.add_node(h.settings("b", {a.listen_endpoint()}));
  auto& c = h.add_node(h.settings("c", {a.listen_endpoint(), b.listen_endpoint()}));
  const auto meshed = [&] {
    return a.connections().size() == 2 && b.connections().size() == 2 &&
           c.connections().size() == 2;
  };
  ASSERT_TRUE(h.wait_until(meshed));
  // Later peer exchanges must not open (or drop) anything.
  EXPECT_FALSE(h.wait_until([&] { return !meshed(); }, 1500ms));
}

// Reserves a free loopback port by binding and releasing it.
protocol::endpoint free_loopback_port(asio::io_context& io) {
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  return *protocol::parse_endpoint("127.0.0.1:" + std::to_string(probe.local_endpoint().port()));
}

TEST(Discovery, NodesDialingEachOtherAtOnceAgreeOnOneConnection) {
  harness h;
  const auto port_a = free_loopback_port(h.io());
  const auto port_b = free_loopback_port(h.io());
  auto s_a = h.settings("a", {port_b});
  s_a.listen = port_a;
  auto s_b = h.settings("b", {port_a});
  s_b.listen = port_b;
  const auto nodes = h.add_nodes_together({s_a, s_b});
  auto& a = *nodes[0];  // the smaller id
  auto& b = *nodes[1];
  const auto one_each = [&] { return a.connections().size() == 1 && b.connections().size() == 1; };
  ASSERT_TRUE(h.wait_until(one_each));
  EXPECT_FALSE(h.wait_until([&] { return !one_each(); }, 1500ms));
  const auto ab = h.run([&] { return a.connections(); });
  const auto ba = h.run([&] { return b.connections(); });
  ASSERT_EQ(ab.size(), 1u);
  ASSERT_EQ(ba.size(), 1u);
  EXPECT_EQ(ab[0].local, ba[0].remote);
  EXPECT_EQ(ab[0].remote, ba[0].local);
  EXPECT_NE(ab[0].dir, ba[0].dir);
  // Both dialed; the survivor is the connection the smaller id dialed.
  EXPECT_EQ(ab[0].dir, peer::direction::outbound);
}

TEST(Discovery, ConnectionToItselfIsDroppedAndNeverRetried) {
  harness h;
  // Told of its own socket under another address (the IPv4-mapped IPv6 form
  // of its listening address), the node cannot know it is itself until the
  // hello comes back with its own id. (A node on every interface meets its
  // own LAN address this way: tests/e2e/test_lan.py. Nodes on every
  // interface run only in a test's own network namespace.)
  const auto port = free_loopback_port(h.io()).port;
  auto s =
      h.settings("self", {*protocol::parse_endpoint("[::ffff:127.0.0.1]:" + std::to_string(port))});
  s.listen = *protocol::parse_endpoint("127.0.0.1:" + std::to_string(port));
  auto& n = h.add_node(s);
  const auto marked_self = [&] {
    const auto known = n.known_peers();
    return known.size() == 1 && known[0].state == "self";
  };
  ASSERT_TRUE(h.wait_until(marked_self));
  EXPECT_TRUE(h.run([&] { return n.connections().empty(); }));
  // It does not dial itself again.
  EXPECT_FALSE(h.wait_until([&] { return !marked_self() || n.status().handshakes > 0; }, 1500ms));
}

// The times (seconds) of a node's peer-exchange rounds since trace entry
// `after`, each with the number of peers it asked: a round's get_peers all go
// out in one turn of the event loop, so they carry (nearly) one time stamp.
std::vector<std::pair<double, int>> exchange_rounds(const peer::node& n, std::uint64_t after) {
  std::vector<std::pair<double, int>> rounds;
  for (const auto& e : n.trace().after(after)) {
    if (!e.sent || e.type != "get_peers") continue;
    if (rounds.empty() || e.time - rounds.back().first > 0.05) rounds.emplace_back(e.time, 0);
    ++rounds.back().second;
  }
  return rounds;
}

TEST(Discovery, ExchangeRoundsAskAFewPeersAndSlowDownWhileNothingIsNew) {
  harness h;
  const auto settings = [&](int i, std::vector<protocol::endpoint> peers) {
    auto s = h.settings("n" + std::to_string(i), std::move(peers));
    s.peer_exchange_interval = 100ms;
    s.peer_exchange_max_interval = 400ms;
    s.peer_exchange_fanout = 3;
    return s;
  };
  auto& first = h.add_node(settings(0, {}));
  std::vector<peer::node*> nodes{&first};
  for (int i = 1; i < 8; ++i)
    nodes.push_back(&h.add_node(settings(i, {first.listen_endpoint()})));
  ASSERT_TRUE(h.wait_until([&] {
    return std::all_of(nodes.begin(), nodes.end(),
                       [](auto* n) { return n->connections().size() == 7; });
  }));
  // From here on nobody learns anything new.
  const auto meshed_at = h.run([&] { return first.trace().last_seq(); });
  ASSERT_TRUE(h.wait_until([&] { return exchange_rounds(first, meshed_at).size() >= 5; }, 10s));
  const auto rounds = h.run([&] { return exchange_rounds(first, meshed_at); });
  for (const auto& [time, asked] : rounds)
    EXPECT_LE(asked, 3) << "a round asks at most peer_exchange_fanout of the 7 peers";
  // Each round that taught nothing doubled the wait, up to the maximum (the
  // interval alone would space them 100 ms apart).
  const auto last_gap = rounds.back().first - rounds[rounds.size() - 2].first;
  EXPECT_GE(last_gap, 0.39) << "the last rounds are 400 ms apart";
}

}  // namespace
}  // namespace peerlab::testing

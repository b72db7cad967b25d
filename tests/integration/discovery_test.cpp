// Several nodes in one process find each other, keep one connection per pair
// and drop connections to themselves.

#include <gtest/gtest.h>

#include <algorithm>

#include "harness.hpp"

namespace peerlab::testing {
namespace {

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(Discovery, NodeToldOfOnePeerLearnsTheWholeSwarm) {
  harness h;
  auto& a = h.add_node(harness::settings("a"));
  auto& b = h.add_node(harness::settings("b", {a.listen_endpoint()}));
  auto& c = h.add_node(harness::settings("c", {b.listen_endpoint()}));

  ASSERT_TRUE(
      h.wait_until([&] { return c.connections().size() == 2 && a.connections().size() == 2; }));
  const auto of_c = h.peer_ids(c);
  EXPECT_TRUE(contains(of_c, hex_id(a)));
  EXPECT_TRUE(contains(of_c, hex_id(b)));

  // C dialed A after hearing of it from B: outbound at C, inbound at A, and
  // both ends agree on the 4-tuple.
  const auto a_side = h.run([&] { return a.connections(); });
  const auto c_side = h.run([&] { return c.connections(); });
  const auto at_a =
      std::find_if(a_side.begin(), a_side.end(), [&](auto& x) { return x.id == hex_id(c); });
  const auto at_c =
      std::find_if(c_side.begin(), c_side.end(), [&](auto& x) { return x.id == hex_id(a); });
  ASSERT_NE(at_a, a_side.end());
  ASSERT_NE(at_c, c_side.end());
  EXPECT_EQ(at_a->dir, peer::direction::inbound);
  EXPECT_EQ(at_c->dir, peer::direction::outbound);
  EXPECT_EQ(at_a->local, at_c->remote);
  EXPECT_EQ(at_a->remote, at_c->local);
  EXPECT_EQ(at_c->remote, a.listen_endpoint());
  EXPECT_EQ(at_a->address, c.listen_endpoint());  // its IP + the port from its hello
}

TEST(Discovery, NodesThatDialEachOtherKeepExactlyOneConnection) {
  harness h;
  auto s_a = harness::settings("a");
  auto& a = h.add_node(s_a);
  auto& b = h.add_node(harness::settings("b", {a.listen_endpoint()}));
  // A learns of B and dials back while B's connection is already up.
  h.run([&] { return 0; });
  auto& c = h.add_node(harness::settings("c", {a.listen_endpoint(), b.listen_endpoint()}));
  ASSERT_TRUE(h.wait_until([&] {
    return a.connections().size() == 2 && b.connections().size() == 2 &&
           c.connections().size() == 2;
  }));
  // Stable: a few exchange rounds later there are still exactly two each.
  const auto a_before = h.run([&] { return a.connections(); });
  EXPECT_FALSE(
      h.wait_until([&] { return a.connections().size() != 2 || c.connections().size() != 2; }, 1s));
  EXPECT_EQ(h.peer_ids(a).size(), 2u);
}

TEST(Discovery, SimultaneousDialsConvergeOnTheConnectionDialedByTheSmallerId) {
  harness h;
  // Reserve two ports, then start both nodes each dialing the other at once.
  auto& a = h.add_node(harness::settings("a"));
  auto& b = h.add_node(harness::settings("b"));
  h.run([&] {
    // Each learns of the other at the same moment: both dial.
    protocol::peers to_a{{b.listen_endpoint()}};
    protocol::peers to_b{{a.listen_endpoint()}};
    return 0;
  });
  auto& c = h.add_node(harness::settings("c", {a.listen_endpoint(), b.listen_endpoint()}));
  ASSERT_TRUE(
      h.wait_until([&] { return a.connections().size() == 2 && b.connections().size() == 2; }));
  // A and B met through C's peer exchange, each possibly dialing the other;
  // exactly one connection survives and both ends name the same 4-tuple.
  const auto ab = h.run([&] { return a.connections(); });
  const auto ba = h.run([&] { return b.connections(); });
  const auto a_to_b =
      std::find_if(ab.begin(), ab.end(), [&](auto& x) { return x.id == hex_id(b); });
  const auto b_to_a =
      std::find_if(ba.begin(), ba.end(), [&](auto& x) { return x.id == hex_id(a); });
  ASSERT_NE(a_to_b, ab.end());
  ASSERT_NE(b_to_a, ba.end());
  EXPECT_EQ(a_to_b->local, b_to_a->remote);
  EXPECT_EQ(a_to_b->remote, b_to_a->local);
  EXPECT_NE(a_to_b->dir, b_to_a->dir);
  (void)c;
}

TEST(Discovery, ConnectionToItselfIsDroppedAndNotRetried) {
  harness h;
  auto s = harness::settings("self");
  s.listen = *protocol::parse_endpoint("0.0.0.0:0");  // reachable as 127.0.0.1 too
  auto& n = h.add_node(s);
  // Tell it its own address under another name: it dials, sees its own id, hangs up.
  auto self_address = n.listen_endpoint();
  self_address = *protocol::parse_endpoint("127.0.0.1:" + std::to_string(self_address.port));
  auto& other = h.add_node(harness::settings("other", {self_address}));
  ASSERT_TRUE(h.wait_until([&] { return other.connections().size() == 1; }));
  // `other` tells n about n's own address through peer exchange; n drops it.
  (void)other;
  EXPECT_FALSE(h.wait_until(
      [&] {
        for (const auto& c : n.connections()) {
          if (c.id == hex_id(n)) return true;
        }
        return false;
      },
      1s));
}

}  // namespace
}  // namespace peerlab::testing

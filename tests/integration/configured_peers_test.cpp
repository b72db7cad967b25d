// --peer as users give it: host names looked up without blocking the node,
// and a loopback listener refused a peer it could never reach. Loopback only
// ("localhost" comes from /etc/hosts: no DNS query leaves the machine; names
// that do not resolve, or change, are tested in tests/e2e/test_lan.py).

#include <gtest/gtest.h>

#include "harness.hpp"

namespace peerlab::testing {
namespace {

TEST(ConfiguredPeers, AHostNameIsLookedUpAndDialed) {
  harness h;
  auto& a = h.add_node(h.settings("a"));
  auto s = h.settings("b");
  // "localhost" is in every /etc/hosts: 127.0.0.1 (and ::1, which a node on
  // 127.0.0.1 cannot dial and leaves out).
  s.bootstrap_hosts.push_back(
      *protocol::parse_host_port("localhost:" + std::to_string(a.listen_endpoint().port)));
  auto& b = h.add_node(std::move(s));
  ASSERT_TRUE(h.wait_until([&] { return b.connections().size() == 1; }));
  EXPECT_EQ(h.peer_ids(b).front(), hex_id(a));
  const auto known = h.run([&] { return b.known_peers(); });
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known.front().address, a.listen_endpoint());
  EXPECT_TRUE(known.front().configured);
}

TEST(ConfiguredPeers, LoopbackListenWithAPeerOnAnotherMachineIsRefusedAtStart) {
  harness h;
  auto s = h.settings("confused", {*protocol::parse_endpoint("10.77.0.1:7070")});
  try {
    h.add_node(std::move(s));
    FAIL() << "a loopback node with a LAN --peer must not start";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--listen 127.0.0.1:0 is a loopback address"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--peer 10.77.0.1:7070"), std::string::npos) << e.what();
  }
}

TEST(ConfiguredPeers, LoopbackNodesSendNoBeacon) {
  harness h;
  auto& n = h.add_node(h.settings("quiet"));
  EXPECT_FALSE(h.run([&] { return n.lan_discovery(); }));
}

}  // namespace
}  // namespace peerlab::testing

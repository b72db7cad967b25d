// Bad input never hurts a node: each hostile connection is closed, and the
// node keeps serving its honest peer.

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "harness.hpp"
#include "raw_client.hpp"

namespace peerlab::testing {
namespace {

class HostileInput : public ::testing::Test {
 protected:
  static constexpr auto handshake_timeout = 1500ms;

  void SetUp() override {
    auto s = h_.settings("target");
    s.connection.handshake_timeout = handshake_timeout;
    s.max_handshakes = 16;
    target_ = &h_.add_node(s);
    honest_ = &h_.add_node(h_.settings("honest", {target_->listen_endpoint()}));
    ASSERT_TRUE(h_.wait_until([&] { return target_->connections().size() == 1; }));
  }

  // The target still has its honest peer and no half-open leftovers.
  void expect_target_healthy() {
    EXPECT_TRUE(h_.wait_until(
        [&] {
          const auto s = target_->status();
          return s.connections == 1 && s.handshakes == 0;
        },
        3s));
    const auto ids = h_.peer_ids(*target_);
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(ids[0], hex_id(*honest_));
  }

  protocol::hello valid_hello() {
    protocol::hello h;
    h.id.fill(0xee);
    h.name = "stranger";
    return h;
  }

  harness h_;
  peer::node* target_ = nullptr;
  peer::node* honest_ = nullptr;
};

// Closed well before the handshake timeout: the input itself was refused.
constexpr auto promptly = 1000ms;

TEST_F(HostileInput, RandomBytesAreClosed) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    raw_client c(target_->listen_endpoint());
    std::vector<std::uint8_t> junk(1 + rng() % 3000);
    for (auto& b : junk)
      b = static_cast<std::uint8_t>(rng());
    c.send(junk);
    EXPECT_TRUE(c.closed_within(handshake_timeout + 2s)) << "round " << round;
  }
  expect_target_healthy();
}

TEST_F(HostileInput, LengthPrefixOf4GiBIsClosedAtOnce) {
  raw_client c(target_->listen_endpoint());
  c.send(std::vector<std::uint8_t>{0xff, 0xff, 0xff, 0xff, 1, 2, 3});
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, FrameCutOffHalfWayIsClosedByTheHandshakeDeadline) {
  {
    raw_client gone(target_->listen_endpoint());
    gone.send(std::vector<std::uint8_t>{0, 0, 0, 100, 1, 1, 1});  // 3 of 100 bytes, then away
  }
  raw_client c(target_->listen_endpoint());
  auto frame = protocol::encode_frame(protocol::encode(valid_hello()));
  frame.resize(frame.size() / 2);
  c.send(frame);
  EXPECT_FALSE(c.closed_within(handshake_timeout / 2)) << "closed before the deadline";
  EXPECT_TRUE(c.closed_within(handshake_timeout + 1s));
  expect_target_healthy();
}

TEST_F(HostileInput, WrongMagicIsClosedAtOnce) {
  raw_client c(target_->listen_endpoint());
  auto h = valid_hello();
  h.magic = 0x47455420;  // "GET "
  c.send(h);
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, WrongVersionIsClosedAtOnce) {
  raw_client c(target_->listen_endpoint());
  auto h = valid_hello();
  h.version = protocol::protocol_version + 1;
  c.send(h);
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, FirstMessageOtherThanHelloIsClosedAtOnce) {
  raw_client c(target_->listen_endpoint());
  c.send(protocol::get_peers{});
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, HelloWithTheNodesOwnIdIsClosed) {
  raw_client c(target_->listen_endpoint());
  auto h = valid_hello();
  h.id = target_->id();
  c.send(h);
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, SilentConnectionIsClosedAtTheHandshakeDeadline) {
  raw_client c(target_->listen_endpoint());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_within(handshake_timeout + 1s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, handshake_timeout - 100ms);
  expect_target_healthy();
}

TEST_F(HostileInput, AbsurdPeerCountAfterTheHandshakeIsClosed) {
  raw_client c(target_->listen_endpoint());
  c.send(valid_hello());
  // A peers message that claims 2^32 entries: type 3, flag 1, u64 count.
  std::vector<std::uint8_t> payload{3, 1, 0, 0, 0, 0, 1, 0, 0, 0};
  c.send(protocol::encode_frame(payload));
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, SecondHelloIsClosed) {
  raw_client c(target_->listen_endpoint());
  c.send(valid_hello());
  ASSERT_TRUE(h_.wait_until([&] { return target_->connections().size() == 2; }));
  c.send(valid_hello());
  EXPECT_TRUE(c.closed_within(promptly));
  expect_target_healthy();
}

TEST_F(HostileInput, FiveHundredConnectionsAtOnceAreBoundedAndAllClosed) {
  std::vector<std::unique_ptr<raw_client>> flood;
  for (int i = 0; i < 500; ++i) {
    flood.push_back(std::make_unique<raw_client>(target_->listen_endpoint()));
  }
  // Never more half-open connections than the limit, while the flood lasts.
  for (int sample = 0; sample < 20; ++sample) {
    EXPECT_LE(h_.run([&] { return target_->status().handshakes; }), 16u);
  }
  for (auto& c : flood)
    EXPECT_TRUE(c->closed_within(handshake_timeout + 2s));
  expect_target_healthy();
}

}  // namespace
}  // namespace peerlab::testing

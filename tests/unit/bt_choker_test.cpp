// The BitTorrent choker: a bounded number unchoked, free slots to the
// longest waiting, and turns for everyone when peers outnumber slots.

#include "peer/bt_choker.hpp"

#include <gtest/gtest.h>

#include <set>

namespace peerlab::peer {
namespace {

using keys = std::vector<bt_choker::key>;

TEST(BtChoker, UnchokesInterestedPeersUpToItsSlots) {
  bt_choker c(2);
  EXPECT_EQ(c.add_interest(1).unchoke, keys{1});
  EXPECT_EQ(c.add_interest(2).unchoke, keys{2});
  EXPECT_TRUE(c.add_interest(3).unchoke.empty());
  EXPECT_FALSE(c.unchoked(3));
  EXPECT_EQ(c.add_interest(1).unchoke, keys{});  // already in
}

TEST(BtChoker, AFreedSlotGoesToTheLongestWaiting) {
  bt_choker c(1);
  c.add_interest(1);
  c.add_interest(2);
  c.add_interest(3);
  EXPECT_EQ(c.drop_interest(1).unchoke, keys{2});
  EXPECT_TRUE(c.drop_interest(3).unchoke.empty());  // was waiting, frees nothing
  EXPECT_EQ(c.waiting(), 0u);
}

TEST(BtChoker, RotationGivesEveryInterestedPeerTurns) {
  bt_choker c(2);
  for (bt_choker::key k = 1; k <= 5; ++k)
    c.add_interest(k);
  std::set<bt_choker::key> served = {1, 2};
  for (int turn = 0; turn < 3; ++turn) {
    const auto change = c.rotate();
    ASSERT_EQ(change.choke.size(), 1u);
    ASSERT_EQ(change.unchoke.size(), 1u);
    served.insert(change.unchoke[0]);
  }
  EXPECT_EQ(served.size(), 5u);
  EXPECT_EQ(c.waiting(), 3u);
}

TEST(BtChoker, RotationWithNobodyWaitingChangesNothing) {
  bt_choker c(4);
  c.add_interest(1);
  const auto change = c.rotate();
  EXPECT_TRUE(change.choke.empty());
  EXPECT_TRUE(change.unchoke.empty());
  EXPECT_TRUE(c.unchoked(1));
}

}  // namespace
}  // namespace peerlab::peer

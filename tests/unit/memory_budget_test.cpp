// The node-wide budget for input being received.

#include "peer/memory_budget.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "test_data.hpp"

namespace peerlab::peer {
namespace {

using namespace std::chrono_literals;
using clock = memory_budget::clock;

TEST(MemoryBudget, SharesGrowWithinTheCapacityAndGiveBackWhenGone) {
  memory_budget budget(100);
  const auto t = clock::time_point{} + 1h;
  {
    budget_share a(&budget);
    budget_share b(&budget);
    EXPECT_TRUE(a.resize(60, t));
    EXPECT_FALSE(b.resize(50, t));  // would exceed: refused, nothing taken
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.resize(40, t));
    EXPECT_EQ(budget.used_bytes(), 100u);
    EXPECT_TRUE(a.resize(10, t));  // shrinking always works
    EXPECT_EQ(budget.used_bytes(), 50u);
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(MemoryBudget, AShareWithoutABudgetAlwaysFits) {
  budget_share free_share;
  EXPECT_TRUE(free_share.resize(std::size_t{1} << 40, clock::now()));
}

TEST(MemoryBudget, AHoarderOfALargeUnfinishedFrameGivesWayToANewcomer) {
  memory_budget budget(1024 * KiB, 5s);
  auto t = clock::time_point{} + 1h;
  int closed = 0;
  budget_share hoarder(&budget, [&] { ++closed; });
  budget_share idle(&budget, [&] { ++closed; });  // a small everyday buffer: never asked
  ASSERT_TRUE(idle.resize(16 * KiB, t));
  ASSERT_TRUE(hoarder.resize(1000 * KiB, t));
  budget_share honest(&budget, [] {});
  // Too early: the hoarder's frame may still be on its way.
  EXPECT_FALSE(honest.resize(256 * KiB, t + 1s));
  EXPECT_EQ(closed, 0);
  // Later it gives way, and only it.
  EXPECT_TRUE(honest.resize(256 * KiB, t + 6s));
  EXPECT_EQ(closed, 1);
  EXPECT_EQ(hoarder.bytes(), 0u);
  EXPECT_EQ(idle.bytes(), 16 * KiB);
}

TEST(MemoryBudget, ASharePassingThroughSmallStartsItsClockAgain) {
  memory_budget budget(1024 * KiB, 5s);
  auto t = clock::time_point{} + 1h;
  budget_share steady(&budget, [] { FAIL() << "a peer finishing its frames must not be closed"; });
  for (int frame = 0; frame < 10; ++frame) {  // 256 KiB frames, one a second
    ASSERT_TRUE(steady.resize(256 * KiB, t += 1s));
    ASSERT_TRUE(steady.resize(0, t));
  }
  ASSERT_TRUE(steady.resize(900 * KiB, t += 1s));
  budget_share other(&budget);
  EXPECT_FALSE(other.resize(200 * KiB, t + 1s));  // steady is not stale: the newcomer waits
}

TEST(MemoryBudget, SharesThatOutliveTheBudgetAreLetGo) {
  // A connection kept alive by a coroutine frame may go after its node.
  auto budget = std::make_unique<memory_budget>(1024 * KiB);
  budget_share held(budget.get(), [] {});
  budget_share plain(budget.get());
  ASSERT_TRUE(held.resize(100 * KiB, clock::time_point{} + 1h));
  ASSERT_TRUE(plain.resize(10 * KiB, clock::time_point{} + 1h));
  budget.reset();
  EXPECT_TRUE(held.resize(0, clock::time_point{} + 2h));  // no budget: always fits
}  // both shares are destroyed after their budget (ASan checks it)

}  // namespace
}  // namespace peerlab::peer

// The node-wide budget for input being received.

#include "peer/memory_budget.hpp"

#include <gtest/gtest.h>

namespace peerlab::peer {
namespace {

TEST(MemoryBudget, SharesGrowWithinTheCapacityAndGiveBackWhenGone) {
  memory_budget budget(100);
  {
    budget_share a(&budget);
    budget_share b(&budget);
    EXPECT_TRUE(a.resize(60));
    EXPECT_FALSE(b.resize(50));  // would exceed: refused, nothing taken
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.resize(40));
    EXPECT_EQ(budget.used_bytes(), 100u);
    EXPECT_TRUE(a.resize(10));  // shrinking always works
    EXPECT_EQ(budget.used_bytes(), 50u);
  }
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(MemoryBudget, AShareWithoutABudgetAlwaysFits) {
  budget_share free_share;
  EXPECT_TRUE(free_share.resize(std::size_t{1} << 40));
}

}  // namespace
}  // namespace peerlab::peer

// Whose request an uploader serves next: turns, least-uploaded first,
// declines and stale requests, with an injected clock.

#include "peer/upload_scheduler.hpp"

#include <gtest/gtest.h>

namespace peerlab::peer {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using action = upload_scheduler::action;

const protocol::content_id file{1};
const auto all_ready = [](upload_scheduler::peer_key) { return true; };

protocol::request chunk(std::uint32_t index) {
  return {file, index};
}

TEST(UploadScheduler, PeersTakeTurnsServedLongestAgoFirst) {
  upload_scheduler s;
  const auto now = clock::time_point{} + 1h;
  for (std::uint32_t i = 0; i < 4; ++i) {
    s.enqueue(1, chunk(i), now);
    s.enqueue(2, chunk(10 + i), now);
    s.enqueue(3, chunk(20 + i), now);
  }
  std::vector<upload_scheduler::peer_key> order;
  for (int i = 0; i < 6; ++i) {
    const auto p = s.next(all_ready);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->what, action::send);
    s.served(p->peer, p->request);
    order.push_back(p->peer);
  }
  EXPECT_EQ(order, (std::vector<upload_scheduler::peer_key>{1, 2, 3, 1, 2, 3}));
}

TEST(UploadScheduler, APeerThatIsNotReadyHoldsNoTurn) {
  upload_scheduler s;
  const auto now = clock::time_point{} + 1h;
  s.enqueue(1, chunk(0), now);  // peer 1 stopped reading
  s.enqueue(2, chunk(1), now);
  const auto p = s.next([](auto key) { return key != 1; });
  ASSERT_TRUE(p);
  EXPECT_EQ(p->peer, 2u);
  EXPECT_FALSE(s.next([](auto key) { return key != 1; }));
  EXPECT_EQ(s.queued(1), 1u) << "its request waits until it reads again";
}

TEST(UploadScheduler, TheChunkSentLeastOftenGoesFirst) {
  upload_scheduler s;
  const auto now = clock::time_point{} + 1h;
  s.delivered(chunk(0));  // chunk 0 went out once already
  s.enqueue(1, chunk(0), now);
  s.enqueue(1, chunk(1), now);
  const auto p = s.next(all_ready);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->request.index, 1u);
}

TEST(UploadScheduler, DeclinesOnceAChunkSentBeforeWhileAnotherWaitsForAFreshOne) {
  upload_scheduler s;
  const auto now = clock::time_point{} + 1h;
  s.delivered(chunk(0));
  s.enqueue(1, chunk(0), now);  // already sent to someone
  s.enqueue(2, chunk(5), now);  // sent to nobody yet
  s.served(2, chunk(6));        // peer 2 was served more recently: peer 1 goes first
  auto p = s.next(all_ready);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->peer, 1u);
  EXPECT_EQ(p->what, action::decline);
  // Asked again, it is served: a decline happens once.
  s.enqueue(1, chunk(0), now);
  s.enqueue(2, chunk(7), now);
  p = s.next(all_ready);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->peer, 1u);
  EXPECT_EQ(p->what, action::send);
}

TEST(UploadScheduler, StaleRequestsForChunksOthersHaveAreTakenOnceAfterTheLimit) {
  upload_scheduler s({64, 500ms});
  const auto t0 = clock::time_point{} + 1h;
  s.delivered(chunk(0));
  s.enqueue(1, chunk(0), t0);
  s.enqueue(1, chunk(1), t0);  // never sent: never stale
  EXPECT_EQ(s.next_stale(), t0 + 500ms);
  EXPECT_TRUE(s.take_stale(t0 + 499ms).empty());
  const auto stale = s.take_stale(t0 + 500ms);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].second.index, 0u);
  s.enqueue(1, chunk(0), t0 + 600ms);
  EXPECT_TRUE(s.take_stale(t0 + 2s).empty()) << "turned away once only";
}

TEST(UploadScheduler, QueuesAreBoundedAndCancelRemoves) {
  upload_scheduler s({2, 500ms});
  const auto now = clock::time_point{} + 1h;
  EXPECT_TRUE(s.enqueue(1, chunk(0), now));
  EXPECT_TRUE(s.enqueue(1, chunk(1), now));
  EXPECT_FALSE(s.enqueue(1, chunk(2), now));
  EXPECT_TRUE(s.cancel(1, chunk(0)));
  EXPECT_FALSE(s.cancel(1, chunk(0)));
  EXPECT_EQ(s.queued(1), 1u);
  s.remove(1);
  EXPECT_EQ(s.queued(1), 0u);
}

TEST(UploadScheduler, AChunkCountsFromItsPickUnlessItsSendIsGivenUp) {
  upload_scheduler s({64, 500ms});
  const auto t0 = clock::time_point{} + 1h;
  s.enqueue(1, chunk(0), t0);
  auto p = s.next(all_ready);
  ASSERT_TRUE(p);
  s.served(p->peer, p->request);  // picked: on a slow uplink it takes seconds to leave
  EXPECT_EQ(s.times_uploaded(chunk(0)), 1u);
  // Meanwhile a second peer asks for it, beside a chunk nobody has: the fresh one goes first.
  s.enqueue(2, chunk(0), t0);
  s.enqueue(2, chunk(1), t0);
  p = s.next(all_ready);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->request.index, 1u);
  s.sent(chunk(0), true);
  EXPECT_EQ(s.times_uploaded(chunk(0)), 1u) << "it left: still one copy";
}

TEST(UploadScheduler, ASendGivenUpNoLongerCounts) {
  upload_scheduler s({64, 500ms});
  const auto t0 = clock::time_point{} + 1h;
  s.enqueue(1, chunk(0), t0);  // a peer that will stop reading
  const auto p = s.next(all_ready);
  ASSERT_TRUE(p);
  s.served(p->peer, p->request);
  s.sent(chunk(0), false);  // it never left
  s.enqueue(2, chunk(0), t0);
  EXPECT_EQ(s.times_uploaded(chunk(0)), 0u);
  EXPECT_TRUE(s.take_stale(t0 + 2s).empty()) << "nobody has it: not a reason to turn peer 2 away";
  s.delivered(chunk(0));  // it left after all
  EXPECT_EQ(s.times_uploaded(chunk(0)), 1u);
}

}  // namespace
}  // namespace peerlab::peer

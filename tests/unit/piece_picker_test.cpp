// Chunk choice: rarest first, one request per chunk until the endgame.

#include "peer/piece_picker.hpp"

#include <gtest/gtest.h>

#include <set>

namespace peerlab::peer {
namespace {

chunk_set with(std::size_t n, std::initializer_list<std::size_t> chunks) {
  chunk_set s(n);
  for (auto c : chunks)
    s.set(c);
  return s;
}

TEST(PiecePicker, PicksTheRarestChunkThePeerHas) {
  piece_picker picker(4, 1);
  picker.add_availability(with(4, {0, 1, 2, 3}));
  picker.add_availability(with(4, {0, 1, 3}));
  picker.add_availability(with(4, {0, 3}));
  // Chunk 2 is held by one peer only: it goes first.
  const std::vector<std::uint8_t> requested(4, 0);
  EXPECT_EQ(picker.pick(with(4, {0, 1, 2, 3}), chunk_set(4), requested, std::vector<bool>(4)), 2u);
  // A peer without chunk 2 gets the rarest of what it has: chunk 1.
  EXPECT_EQ(picker.pick(with(4, {0, 1, 3}), chunk_set(4), requested, std::vector<bool>(4)), 1u);
}

TEST(PiecePicker, SkipsChunksWeHaveOrAlreadyRequested) {
  piece_picker picker(3, 1);
  const auto all = with(3, {0, 1, 2});
  picker.add_availability(all);
  std::vector<std::uint8_t> requested{0, 1, 0};
  EXPECT_EQ(picker.pick(all, with(3, {0}), requested, std::vector<bool>(3)), 2u);
}

TEST(PiecePicker, EndgameAsksASecondPeerOnlyWhenEverythingMissingIsRequested) {
  piece_picker picker(3, 1);
  const auto all = with(3, {0, 1, 2});
  picker.add_availability(all);
  picker.add_availability(all);
  std::vector<std::uint8_t> requested{1, 1, 0};
  std::vector<bool> from_this_peer{false, false, false};
  // Chunk 2 is still unrequested: no duplicates yet.
  EXPECT_EQ(picker.pick(all, chunk_set(3), requested, from_this_peer), 2u);
  requested[2] = 1;
  from_this_peer[2] = true;
  // Now every missing chunk is out: a second copy of 0 or 1, never 2 again here.
  const auto endgame = picker.pick(all, chunk_set(3), requested, from_this_peer);
  ASSERT_TRUE(endgame.has_value());
  EXPECT_NE(*endgame, 2u);
  requested = {2, 2, 2};
  EXPECT_FALSE(picker.pick(all, chunk_set(3), requested, from_this_peer).has_value());
}

TEST(PiecePicker, TiesAreBrokenSoDownloadersSpreadOut) {
  chunk_set everything(64, true);
  std::set<std::size_t> first_picks;
  for (std::uint32_t seed = 0; seed < 20; ++seed) {
    piece_picker picker(64, seed);
    picker.add_availability(everything);
    first_picks.insert(*picker.pick(everything, chunk_set(64), std::vector<std::uint8_t>(64),
                                    std::vector<bool>(64)));
  }
  EXPECT_GT(first_picks.size(), 5u) << "every downloader would start with the same chunk";
}

TEST(ChunkSet, BitsRoundTripMostSignificantBitFirst) {
  const auto s = with(10, {0, 7, 9});
  const auto bits = s.to_bits();
  ASSERT_EQ(bits.size(), 2u);
  EXPECT_EQ(bits[0], 0x81);
  EXPECT_EQ(bits[1], 0x40);
  const auto back = chunk_set::from_bits(bits, 10);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->count(), 3u);
  EXPECT_TRUE(back->has(9));
}

TEST(ChunkSet, FromBitsRejectsWrongLengthAndPaddingBits) {
  EXPECT_FALSE(chunk_set::from_bits(std::vector<std::uint8_t>{0xff}, 10).has_value());
  EXPECT_FALSE(chunk_set::from_bits(std::vector<std::uint8_t>{0x00, 0x01}, 10).has_value());
  EXPECT_EQ(chunk_set::from_bits({}, 10)->count(), 0u);
}

}  // namespace
}  // namespace peerlab::peer

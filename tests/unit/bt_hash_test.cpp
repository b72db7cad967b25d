// BitTorrent hashes in one pass: v1 SHA-1 per piece, v2 merkle trees, the
// same whether a file is hashed at once, in slices, or in ranges on several
// threads; pinned to what libtorrent 2.0.8 computes for the same bytes.

#include "protocol/bt_hash.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "protocol/hex.hpp"
#include "test_data.hpp"

namespace peerlab::protocol::bt {
namespace {

// The test files of the cross-checks: byte i is i % 251.
TEST(BtHash, PiecesRootsEqualLibtorrents) {
  // lt.create_torrent(…, flags=v2_only) on the same bytes: file tree's pieces root.
  struct vector {
    std::size_t size;
    std::uint32_t piece_length;
    const char* root;
  };
  for (const auto& v : {
           vector{3'000'000, 262144,
                  "3151ec5d3ea256f2d88600fe4453bf2bde7e465d10454ff8dbc8836e274bebcf"},
           vector{40'000, 65536,
                  "ab671631a9fa97a1fdac651fff6c68773b9acf0735b9c7f6ecdd54cbf1bf5dc2"},
           vector{1, 32768, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
       }) {
    const auto h = hash_file({v.size, v.piece_length}, pattern(v.size));
    ASSERT_TRUE(h.ok()) << h.error_message();
    EXPECT_EQ(to_hex(h->pieces_root), v.root) << v.size;
  }
}

TEST(BtHash, V1PiecesAreTheSha1OfEachPiece) {
  const auto data = pattern(3'000'000);
  const piece_layout layout{data.size(), 262144};
  const auto h = hash_file(layout, data);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->v1_pieces.size(), 12u);
  for (std::size_t i = 0; i < 12; ++i) {
    const auto piece = std::span(data).subspan(i * 262144, layout.piece_size(i));
    EXPECT_EQ(h->v1_pieces[i], sha1(piece)) << i;
  }
  EXPECT_EQ(layout.piece_size(11), 3'000'000u - 11 * 262144);
}

TEST(BtHash, PieceLayerHashesEachPieceAsAPaddedSubtreeAndUpToTheRoot) {
  const auto data = pattern(3'000'000);
  const piece_layout layout{data.size(), 262144};
  const auto h = hash_file(layout, data);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->piece_layer.size(), 12u);
  // The last piece: 7 blocks of data (the last one short), 9 zero leaves.
  const auto last = std::span(data).subspan(11 * 262144);
  EXPECT_EQ(h->piece_layer[11], merkle_root(block_hashes(last), 16, {}));
  // The root: 12 piece hashes padded to 16 with the root of a zero piece.
  EXPECT_EQ(h->pieces_root, merkle_root(h->piece_layer, 16, merkle_pad(4)));
  // …which is the same as padding all leaves with zeros to 256.
  EXPECT_EQ(h->pieces_root, merkle_root(block_hashes(data), 256, {}));
}

TEST(BtHash, AFileOfAtMostOnePieceHasNoPieceLayer) {
  for (const std::size_t size : {1u, 16384u, 16385u, 65536u}) {
    const auto data = pattern(size);
    const auto h = hash_file({size, 65536}, data);
    ASSERT_TRUE(h.ok());
    EXPECT_TRUE(h->piece_layer.empty()) << size;
    EXPECT_EQ(h->v1_pieces.size(), 1u);
    // Its tree is as wide as its blocks need, not as a piece.
    const auto leaves = block_hashes(data);
    EXPECT_EQ(h->pieces_root, merkle_root(leaves, merkle_width(leaves.size()), {})) << size;
  }
  const auto two = hash_file({65537, 65536}, pattern(65537));
  EXPECT_EQ(two->piece_layer.size(), 2u);
}

TEST(BtHash, AnEmptyFileHasNoPiecesAndAZeroRoot) {
  const auto h = hash_file({0, 65536}, {});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->v1_pieces.empty());
  EXPECT_TRUE(h->piece_layer.empty());
  EXPECT_EQ(h->pieces_root, sha256_digest{});
}

TEST(BtHash, SlicesOfAnySizeGiveTheSameHashes) {
  const auto data = pattern(1'000'003);
  const piece_layout layout{data.size(), 65536};
  const auto whole = hash_file(layout, data);
  for (const std::size_t slice : {1u, 7u, 16383u, 16384u, 16385u, 100'000u}) {
    auto hasher = range_hasher::create(layout, 0, data.size());
    ASSERT_TRUE(hasher.ok());
    for (std::size_t at = 0; at < data.size(); at += slice)
      hasher->update(std::span(data).subspan(at, std::min(slice, data.size() - at)));
    auto range = hasher->finish();
    ASSERT_TRUE(range.ok());
    const auto h = combine(layout, std::span<const range_hashes>(&*range, 1));
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, *whole) << slice;
  }
}

TEST(BtHash, RangesHashedOnSeveralThreadsCombineToTheOnePassResult) {
  // As the node hashes a file: 256 KiB chunks, each on its own thread,
  // with smaller pieces (64 KiB), so each chunk holds four pieces.
  const auto data = pattern(5 * 262144 + 12345);
  const piece_layout layout{data.size(), 65536};
  const std::uint64_t chunk = 262144;
  const std::size_t chunks = (data.size() + chunk - 1) / chunk;
  std::vector<range_hashes> ranges(chunks);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < chunks; ++i) {
    threads.emplace_back([&, i] {
      const auto offset = i * chunk;
      const auto length = std::min<std::uint64_t>(chunk, data.size() - offset);
      auto hasher = range_hasher::create(layout, offset, length);
      hasher->update(std::span(data).subspan(offset, length));
      ranges[i] = std::move(*hasher->finish());
    });
  }
  for (auto& t : threads)
    t.join();
  const auto combined = combine(layout, ranges);
  ASSERT_TRUE(combined.ok()) << combined.error_message();
  EXPECT_EQ(*combined, *hash_file(layout, data));
}

TEST(BtHash, RangesMustBeAlignedOnPieces) {
  const piece_layout layout{1'000'000, 65536};
  EXPECT_FALSE(range_hasher::create(layout, 16384, 65536).ok());
  EXPECT_FALSE(range_hasher::create(layout, 0, 70000).ok());
  EXPECT_FALSE(range_hasher::create(layout, 983040, 20000).ok());   // past the end
  EXPECT_TRUE(range_hasher::create(layout, 983040, 16960).ok());    // the file's tail
  EXPECT_FALSE(range_hasher::create({1000, 20000}, 0, 1000).ok());  // not a power of two
  EXPECT_FALSE(range_hasher::create({1000, 8192}, 0, 1000).ok());   // under 16 KiB
}

TEST(BtHash, FinishFailsUnlessExactlyTheRangeWasFed) {
  const piece_layout layout{100'000, 65536};
  auto shorter = range_hasher::create(layout, 0, 65536);
  shorter->update(pattern(1000));
  EXPECT_FALSE(shorter->finish().ok());
  auto longer = range_hasher::create(layout, 0, 65536);
  longer->update(pattern(65537));
  EXPECT_FALSE(longer->finish().ok());
}

TEST(BtHash, CombineRefusesGapsOverlapsAndMissingTails) {
  const auto data = pattern(200'000);
  const piece_layout layout{data.size(), 65536};
  std::vector<range_hashes> ranges;
  for (const std::uint64_t offset : {0u, 65536u, 131072u, 196608u}) {
    const auto length = std::min<std::uint64_t>(65536, data.size() - offset);
    auto hasher = range_hasher::create(layout, offset, length);
    hasher->update(std::span(data).subspan(offset, length));
    ranges.push_back(*hasher->finish());
  }
  EXPECT_FALSE(combine(layout, std::span(ranges).first(3)).ok());  // no tail
  std::vector<range_hashes> gap = {ranges[0], ranges[2], ranges[3]};
  EXPECT_FALSE(combine(layout, gap).ok());
  std::vector<range_hashes> twice = {ranges[0], ranges[0], ranges[1], ranges[2], ranges[3]};
  EXPECT_FALSE(combine(layout, twice).ok());
  const auto all = combine(layout, ranges);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->piece_layer.size(), 4u);
}

TEST(BtHash, PieceLengthForKeepsThePieceCountBounded) {
  EXPECT_EQ(piece_length_for(1000), 262144u);
  EXPECT_EQ(piece_length_for(1000, 16384), 16384u);
  EXPECT_EQ(piece_length_for(1000, 1000), 16384u);
  EXPECT_EQ(piece_length_for(std::uint64_t{1} << 40, 262144), 1u << 20);  // 1 TiB: 1 MiB pieces
  EXPECT_EQ(layout_problem({std::uint64_t{1} << 40, 262144}).empty(), false);
}

// Recomputes the root from a BEP 52 hashes answer: the requested hashes,
// then one uncle per layer above their subtree.
sha256_digest root_from_answer(const std::vector<sha256_digest>& answer, std::uint32_t index,
                               std::uint32_t count) {
  std::vector<sha256_digest> layer(answer.begin(), answer.begin() + count);
  while (layer.size() > 1) {
    std::vector<sha256_digest> up;
    for (std::size_t i = 0; i < layer.size(); i += 2)
      up.push_back(merkle_parent(layer[i], layer[i + 1]));
    layer = up;
  }
  sha256_digest node = layer[0];
  std::uint64_t position = index / count;
  for (std::size_t i = count; i < answer.size(); ++i, position /= 2)
    node = position % 2 == 0 ? merkle_parent(node, answer[i]) : merkle_parent(answer[i], node);
  return node;
}

TEST(BtMerkle, AnswersToHashRequestsProveTheirHashesUpToTheRoot) {
  const auto data = pattern(3'000'000);
  const auto h = hash_file({data.size(), 65536}, data);  // 46 pieces: a tree 64 wide
  const auto layers = merkle_layers(h->piece_layer, 64, merkle_pad(2));
  ASSERT_EQ(layers.size(), 7u);
  EXPECT_EQ(layers.back()[0], h->pieces_root);
  // 8 hashes from 16, with all 5 proof layers libtorrent may ask for: the
  // first 2 lie inside the 8 hashes' own subtree, 3 uncles remain.
  const auto answer = merkle_hashes_for_request(layers, 16, 8, 5);
  ASSERT_TRUE(answer.ok()) << answer.error_message();
  ASSERT_EQ(answer->size(), 8u + 3u);
  EXPECT_EQ(root_from_answer(*answer, 16, 8), h->pieces_root);
  // Without proofs: just the hashes.
  EXPECT_EQ(merkle_hashes_for_request(layers, 0, 64, 0)->size(), 64u);
  // Out of the tree.
  EXPECT_FALSE(merkle_hashes_for_request(layers, 60, 8, 0).ok());
  EXPECT_FALSE(merkle_hashes_for_request(layers, 0, 0, 0).ok());
  EXPECT_FALSE(merkle_hashes_for_request(layers, 0, 8, 6).ok());
}

TEST(BtMerkle, PaddingAPieceLayerIsPaddingItsLeavesWithZeros) {
  const std::vector<sha256_digest> leaves = {sha256_of(pattern(10)), sha256_of(pattern(20)),
                                             sha256_of(pattern(30))};
  const auto four = merkle_root(leaves, 4, {});
  EXPECT_EQ(four, merkle_parent(merkle_parent(leaves[0], leaves[1]),
                                merkle_parent(leaves[2], sha256_digest{})));
  EXPECT_EQ(merkle_root(leaves, 8, {}), merkle_parent(four, merkle_pad(2)));
  EXPECT_EQ(merkle_layers(leaves, 8, {}).back()[0], merkle_root(leaves, 8, {}));
  EXPECT_EQ(merkle_width(0), 1u);
  EXPECT_EQ(merkle_width(5), 8u);
  EXPECT_EQ(merkle_width(8), 8u);
}

}  // namespace
}  // namespace peerlab::protocol::bt

// What a chunk must hash to: a peerlab chunk's SHA-256, a v1 piece's SHA-1,
// a v2 piece's merkle root (BEP 52), each checked against the hashes
// protocol::bt::hash_file makes for the whole file.

#include "peer/chunk_check.hpp"

#include <gtest/gtest.h>

#include "protocol/bt_hash.hpp"

namespace peerlab::peer {
namespace {

namespace bt = protocol::bt;

std::vector<std::uint8_t> chunk_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>((i * 7 + i / 1000) % 251);
  return out;
}

std::span<const std::uint8_t> piece(const std::vector<std::uint8_t>& file,
                                    const bt::piece_layout& layout, std::size_t i) {
  return std::span<const std::uint8_t>(file).subspan(i * layout.piece_length, layout.piece_size(i));
}

std::vector<std::uint8_t> flipped(std::span<const std::uint8_t> bytes, std::size_t at) {
  std::vector<std::uint8_t> out(bytes.begin(), bytes.end());
  out[at] ^= 1;
  return out;
}

TEST(ChunkCheck, Sha256MatchesThePeerlabChunkOnly) {
  const auto data = chunk_bytes(300'000);
  const auto check = chunk_check::sha256(protocol::sha256(data));
  EXPECT_TRUE(matches(check, data));
  EXPECT_FALSE(matches(check, flipped(data, 123'456)));
  EXPECT_FALSE(matches(check, std::span(data).first(data.size() - 1)));
}

TEST(ChunkCheck, V1PieceMatchesItsSha1IncludingAShortLastPiece) {
  const bt::piece_layout layout{600'000, 262'144};
  const auto file = chunk_bytes(layout.file_size);
  const auto hashes = bt::hash_file(layout, file);
  ASSERT_TRUE(hashes) << hashes.error_message();
  ASSERT_EQ(hashes->v1_pieces.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto check = chunk_check::sha1(hashes->v1_pieces[i]);
    EXPECT_EQ(check.what, chunk_check::kind::sha1);
    EXPECT_TRUE(matches(check, piece(file, layout, i))) << "piece " << i;
    EXPECT_FALSE(matches(check, flipped(piece(file, layout, i), 0))) << "piece " << i;
  }
  EXPECT_FALSE(matches(chunk_check::sha1(hashes->v1_pieces[0]), piece(file, layout, 1)));
}

TEST(ChunkCheck, V2PieceOfALongerFileMatchesItsPieceLayerHash) {
  // Four pieces of 64 KiB (four leaves each); the last one 40,000 bytes:
  // two full blocks, a short one, and one zero leaf of padding.
  const bt::piece_layout layout{3 * 65'536 + 40'000, 65'536};
  const auto file = chunk_bytes(layout.file_size);
  const auto hashes = bt::hash_file(layout, file);
  ASSERT_TRUE(hashes) << hashes.error_message();
  ASSERT_EQ(hashes->piece_layer.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const auto check = chunk_check::merkle(hashes->piece_layer[i], layout.blocks_per_piece());
    EXPECT_TRUE(matches(check, piece(file, layout, i))) << "piece " << i;
    EXPECT_FALSE(matches(check, flipped(piece(file, layout, i), layout.piece_size(i) - 1)))
        << "piece " << i;
  }
  // The short last piece with one byte more or less, or checked against the
  // wrong width, is not the piece.
  const auto last = piece(file, layout, 3);
  const auto check = chunk_check::merkle(hashes->piece_layer[3], 4);
  EXPECT_FALSE(matches(check, last.first(last.size() - 1)));
  EXPECT_FALSE(matches(check, std::span(file).subspan(3 * 65'536 - 1, last.size() + 1)));
  EXPECT_FALSE(matches(chunk_check::merkle(hashes->piece_layer[3], 8), last));
}

TEST(ChunkCheck, V2FileOfOnePieceMatchesItsPiecesRoot) {
  // At most one piece: no piece layer; the root spans the blocks the file
  // has, padded to a power of two (6 blocks: 8 leaves), not to the piece.
  for (const std::uint64_t size : {1u, 16'384u, 5u * 16'384u + 1u, 262'144u}) {
    const bt::piece_layout layout{size, 262'144};
    const auto file = chunk_bytes(size);
    const auto hashes = bt::hash_file(layout, file);
    ASSERT_TRUE(hashes) << hashes.error_message();
    EXPECT_TRUE(hashes->piece_layer.empty());
    const auto leaves = static_cast<std::uint32_t>(bt::merkle_width(layout.block_count()));
    const auto check = chunk_check::merkle(hashes->pieces_root, leaves);
    EXPECT_TRUE(matches(check, file)) << size << " bytes";
    EXPECT_FALSE(matches(check, flipped(file, size / 2))) << size << " bytes";
  }
}

TEST(ChunkCheck, MalformedMerkleChecksMatchNothing) {
  const auto data = chunk_bytes(16'384 * 3);
  const auto leaves = bt::block_hashes(data);
  const auto root = bt::merkle_root(leaves, 4, bt::sha256_digest{});
  EXPECT_TRUE(matches(chunk_check::merkle(root, 4), data));
  EXPECT_FALSE(matches(chunk_check::merkle(root, 0), data));
  EXPECT_FALSE(matches(chunk_check::merkle(root, 3), data));
  EXPECT_FALSE(matches(chunk_check::merkle(root, 2), data));  // more blocks than leaves
  EXPECT_FALSE(matches(chunk_check::merkle(root, 4), {}));
}

}  // namespace
}  // namespace peerlab::peer

namespace peerlab::peer {
namespace {

TEST(ChunkCheck, V2PieceOfAFileInAMultiFileTorrentIsCheckedOverItsFileBytesAndZeroPad) {
  // A file's last piece in a multi-file v2 torrent comes padded with zeros
  // to the piece boundary: the tree is over the file's 40,000 bytes only.
  const bt::piece_layout layout{3 * 65'536 + 40'000, 65'536};
  const auto file = chunk_bytes(layout.file_size);
  const auto hashes = bt::hash_file(layout, file);
  ASSERT_TRUE(hashes) << hashes.error_message();
  std::vector<std::uint8_t> padded(65'536, 0);
  const auto last = piece(file, layout, 3);
  std::copy(last.begin(), last.end(), padded.begin());
  const auto check = chunk_check::merkle(hashes->piece_layer[3], 4, 40'000);
  EXPECT_TRUE(matches(check, padded));
  EXPECT_FALSE(matches(check, flipped(padded, 50'000)));  // a pad byte that is not zero
  EXPECT_FALSE(matches(check, flipped(padded, 10)));
  EXPECT_FALSE(matches(check, std::span(padded).first(30'000)));  // shorter than its file bytes
  // Without file_bytes the pad zeros would be hashed as file bytes.
  EXPECT_FALSE(matches(chunk_check::merkle(hashes->piece_layer[3], 4), padded));
}

}  // namespace
}  // namespace peerlab::peer

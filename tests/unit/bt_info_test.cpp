// A shared file's BitTorrent side: hashed in the same pass as its chunks,
// kept in the data directory and read back, indexed by every info-hash.

#include "peer/bt_info.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "peer/store.hpp"
#include "test_data.hpp"

namespace peerlab::peer {
namespace {

namespace bt = protocol::bt;
namespace fs = std::filesystem;

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("peerlab-bt-info-" + std::to_string(::getpid()));
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() { fs::remove_all(path); }
};

fs::path write(const fs::path& file, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return file;
}

TEST(BtInfo, ShareHashesChunksAndBitTorrentInOnePass) {
  temp_dir dir;
  const auto bytes = pattern(3'000'000);
  const auto hashed = store::hash_file(write(dir.path / "f.bin", bytes));
  ASSERT_TRUE(hashed) << hashed.error_message();
  EXPECT_EQ(hashed->manifest.chunk_size, 262144u);
  const auto expected = bt::hash_file({bytes.size(), hashed->manifest.chunk_size}, bytes);
  ASSERT_TRUE(expected);
  EXPECT_EQ(hashed->bt, *expected);
  // Pinned to libtorrent 2.0.8 (bt_hash_test): the same pieces root.
  EXPECT_EQ(protocol::to_hex(hashed->bt.pieces_root),
            "3151ec5d3ea256f2d88600fe4453bf2bde7e465d10454ff8dbc8836e274bebcf");
}

TEST(BtInfo, HashesRoundTripThroughTheDataDirectoryFormat) {
  const auto bytes = pattern(1'000'000);
  protocol::manifest m{"f.bin", bytes.size(), 262144, std::vector<protocol::sha256_digest>(4)};
  const auto h = *bt::hash_file({m.size, m.chunk_size}, bytes);
  auto encoded = encode_bt_hashes(h);
  const auto decoded = decode_bt_hashes(encoded, m);
  ASSERT_TRUE(decoded) << decoded.error_message();
  EXPECT_EQ(*decoded, h);
  encoded.back() ^= 1;  // a piece-layer hash no longer adds up to the root
  EXPECT_FALSE(decode_bt_hashes(encoded, m));
  encoded.pop_back();
  EXPECT_FALSE(decode_bt_hashes(encoded, m));
}

TEST(BtInfo, EveryTorrentFormatIsIndexedByItsWireInfoHash) {
  const auto bytes = pattern(600'000);
  protocol::manifest m{"f.bin", bytes.size(), 262144, std::vector<protocol::sha256_digest>(3)};
  const auto info = make_bt_info(m, *bt::hash_file({m.size, m.chunk_size}, bytes));
  ASSERT_TRUE(info) << info.error_message();
  const auto ids = (*info)->wire_ids();
  ASSERT_EQ(ids.size(), 4u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (std::size_t j = i + 1; j < ids.size(); ++j)
      EXPECT_NE(ids[i].first, ids[j].first);
  }
  const auto v2 = (*info)->torrent(bt::torrent_format::v2, "http://127.0.0.1:1/announce");
  ASSERT_TRUE(v2);
  const auto parsed = bt::parse_torrent(v2->bytes);
  ASSERT_TRUE(parsed) << parsed.error_message();
  EXPECT_EQ(parsed->hashes, (*info)->v2.hashes);
  EXPECT_EQ((*info)->piece_tree.back().size(), 1u);
  EXPECT_EQ((*info)->piece_tree.back()[0], (*info)->hashes.pieces_root);
  EXPECT_NE((*info)->magnet(bt::torrent_format::hybrid, "").find("urn:btmh:1220"),
            std::string::npos);
}

}  // namespace
}  // namespace peerlab::peer

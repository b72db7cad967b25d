// A torrent handed to us (.torrent file or a magnet's metadata): its
// bt_info keeps the one torrent it is, with the info-hashes of the file
// byte for byte, and is named by those alone.

#include <gtest/gtest.h>

#include "peer/bt_info.hpp"
#include "protocol/bencode.hpp"
#include "test_data.hpp"

namespace peerlab::peer {
namespace {

namespace bt = protocol::bt;

constexpr const char* tracker = "http://127.0.0.1:1/announce";

bt::torrent_info parsed_torrent(bt::torrent_format f, std::uint64_t size,
                                std::uint32_t piece_length) {
  bt::torrent_source s;
  s.name = "lecture.bin";
  s.size = size;
  s.piece_length = piece_length;
  s.hashes = *bt::hash_file({size, piece_length}, pattern(size));
  s.announce = tracker;
  const auto built = bt::make_torrent(s, f);
  EXPECT_TRUE(built) << built.error_message();
  auto parsed = bt::parse_torrent(built->bytes);
  EXPECT_TRUE(parsed) << parsed.error_message();
  return *parsed;
}

class BtInfoOfTorrentFormat : public testing::TestWithParam<bt::torrent_format> {};

TEST_P(BtInfoOfTorrentFormat, KeepsItsOneTorrentWithTheSameInfoHashes) {
  const auto f = GetParam();
  const std::uint64_t size = 700'000;
  const auto t = parsed_torrent(f, size, 65'536);
  const auto made = make_bt_info(t);
  ASSERT_TRUE(made) << made.error_message();
  const auto& info = **made;
  EXPECT_EQ(info.formats, std::vector{f});
  EXPECT_TRUE(info.has(f));
  EXPECT_EQ(info.of(f).hashes, t.hashes);
  EXPECT_EQ(info.of(f).info_bytes, t.info_bytes);
  EXPECT_EQ(info.size, size);
  EXPECT_EQ(info.piece_length, 65'536u);
  EXPECT_EQ(info.piece_count(), 11u);
  EXPECT_EQ(info.trackers, std::vector<std::string>{tracker});

  const auto expected = *bt::hash_file({size, 65'536}, pattern(size));
  if (f == bt::torrent_format::v2) {
    EXPECT_TRUE(info.hashes.v1_pieces.empty());
  } else {
    EXPECT_EQ(info.hashes.v1_pieces, expected.v1_pieces);
  }
  if (f == bt::torrent_format::v1) {
    EXPECT_TRUE(info.hashes.piece_layer.empty());
    EXPECT_TRUE(info.piece_tree.empty());
  } else {
    EXPECT_EQ(info.hashes.pieces_root, expected.pieces_root);
    EXPECT_EQ(info.hashes.piece_layer, expected.piece_layer);
    ASSERT_FALSE(info.piece_tree.empty());
    EXPECT_EQ(info.piece_tree.back().front(), expected.pieces_root);
  }

  // Named by the info-hashes of this torrent only: v1 by its SHA-1, v2 by
  // its SHA-256 truncated, a hybrid by both.
  std::vector<std::pair<bt::sha1_digest, bt::torrent_format>> ids;
  if (t.hashes.v1) ids.emplace_back(*t.hashes.v1, f);
  if (t.hashes.v2) ids.emplace_back(bt::info_hashes::truncate(*t.hashes.v2), f);
  EXPECT_EQ(info.wire_ids(), ids);
  EXPECT_EQ(info.wire_ids().size(), f == bt::torrent_format::hybrid ? 2u : 1u);

  // Its content id is the SHA-256 of the info dictionary: for v2 and hybrid,
  // the v2 info-hash.
  EXPECT_EQ(torrent_content_id(t), protocol::sha256(t.info_bytes));
  if (t.hashes.v2) {
    EXPECT_EQ(torrent_content_id(t), *t.hashes.v2);
  }

  // Exported again, it is the same torrent (same info dictionary), with the
  // node's tracker first; no other format exists.
  const auto again = info.torrent(f, "http://127.0.0.1:2/announce");
  ASSERT_TRUE(again) << again.error_message();
  EXPECT_EQ(again->info_bytes, t.info_bytes);
  const auto reparsed = bt::parse_torrent(again->bytes);
  ASSERT_TRUE(reparsed) << reparsed.error_message();
  EXPECT_EQ(reparsed->hashes, t.hashes);
  EXPECT_TRUE(reparsed->piece_layers_complete);
  EXPECT_EQ(reparsed->trackers, (std::vector<std::string>{"http://127.0.0.1:2/announce", tracker}));
  const auto magnet = bt::parse_magnet(info.magnet(f, "http://127.0.0.1:2/announce"));
  ASSERT_TRUE(magnet) << magnet.error_message();
  EXPECT_EQ(magnet->hashes, t.hashes);
  EXPECT_EQ(magnet->trackers, (std::vector<std::string>{"http://127.0.0.1:2/announce", tracker}));
  for (const auto other :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    if (other != f) {
      EXPECT_FALSE(info.torrent(other, ""));
    }
  }
}

TEST_P(BtInfoOfTorrentFormat, AFileOfOnePieceHasNoPieceLayer) {
  const auto f = GetParam();
  const auto t = parsed_torrent(f, 40'000, 65'536);
  const auto made = make_bt_info(t);
  ASSERT_TRUE(made) << made.error_message();
  EXPECT_TRUE((*made)->hashes.piece_layer.empty());
  EXPECT_TRUE((*made)->piece_tree.empty());
  EXPECT_EQ((*made)->piece_count(), 1u);
  if (f != bt::torrent_format::v1) {
    EXPECT_EQ((*made)->hashes.pieces_root, *t.files[0].pieces_root);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, BtInfoOfTorrentFormat,
                         testing::Values(bt::torrent_format::v1, bt::torrent_format::v2,
                                         bt::torrent_format::hybrid),
                         [](const auto& p) { return std::string(bt::to_string(p.param)); });

TEST(BtInfoOfTorrent, AMultiFileTorrentIsOneDownloadOverItsPieceSpace) {
  auto file = [](std::string name, std::int64_t length) {
    auto e = bt::bvalue::make_dict();
    e.set("length", length);
    e.set("path", bt::bvalue::list{bt::bvalue(std::move(name))});
    return e;
  };
  auto info = bt::bvalue::make_dict();
  info.set("name", "course");
  info.set("piece length", 16'384);
  info.set("files", bt::bvalue::list{file("a.bin", 10'000), file("b.bin", 10'000)});
  info.set("pieces", std::string(40, 'x'));
  auto root = bt::bvalue::make_dict();
  root.set("info", std::move(info));
  const auto t = bt::parse_torrent(bt::bencode(root));
  ASSERT_TRUE(t) << t.error_message();
  const auto made = make_bt_info(*t);
  ASSERT_TRUE(made) << made.error_message();
  ASSERT_TRUE((*made)->layout);
  EXPECT_EQ((*made)->size, 20'000u);
  EXPECT_EQ((*made)->piece_count(), 2u);
  ASSERT_EQ((*made)->layout->files.size(), 2u);
  EXPECT_EQ((*made)->layout->files[1].path, "b.bin");
  EXPECT_EQ((*made)->layout->files[1].offset, 10'000u);
}

TEST(BtInfoOfTorrent, AV2TorrentWithoutItsPieceLayerIsRefused) {
  // A magnet's metadata (BEP 9) has no piece layers: hash requests would
  // have to fetch them first.
  const auto t = parsed_torrent(bt::torrent_format::v2, 700'000, 65'536);
  const auto bare = bt::parse_info_dict(t.info_bytes);
  ASSERT_TRUE(bare) << bare.error_message();
  EXPECT_FALSE(bare->piece_layers_complete);
  EXPECT_FALSE(make_bt_info(*bare));
  // A v1 one needs none; a hybrid's pieces are checked by their SHA-1s.
  const auto v1 =
      bt::parse_info_dict(parsed_torrent(bt::torrent_format::v1, 700'000, 65'536).info_bytes);
  ASSERT_TRUE(v1);
  EXPECT_TRUE(make_bt_info(*v1));
  const auto hybrid =
      bt::parse_info_dict(parsed_torrent(bt::torrent_format::hybrid, 700'000, 65'536).info_bytes);
  ASSERT_TRUE(hybrid);
  const auto made = make_bt_info(*hybrid);
  ASSERT_TRUE(made) << made.error_message();
  EXPECT_TRUE((*made)->hashes.piece_layer.empty());
  EXPECT_TRUE((*made)->piece_tree.empty());
}

TEST(BtInfoOfTorrent, InfoHashesThatDoNotMatchTheInfoDictionaryAreRefused) {
  auto t = parsed_torrent(bt::torrent_format::hybrid, 700'000, 65'536);
  t.hashes.v1->front() ^= 1;
  EXPECT_FALSE(make_bt_info(t));
}

TEST(BtInfoOfTorrent, TheKeptTorrentReadsBackAsTheSameTorrent) {
  const auto t = parsed_torrent(bt::torrent_format::hybrid, 700'000, 65'536);
  const auto info = make_bt_info(t);
  ASSERT_TRUE(info);
  const std::vector<std::string> trackers{"udp://127.0.0.1:3/announce", tracker};
  const auto kept = torrent_file_around(t.info_bytes, trackers, (*info)->hashes);
  const auto back = bt::parse_torrent(kept);
  ASSERT_TRUE(back) << back.error_message();
  EXPECT_EQ(back->info_bytes, t.info_bytes);
  EXPECT_EQ(back->hashes, t.hashes);
  EXPECT_EQ(back->trackers, trackers);
  EXPECT_TRUE(back->piece_layers_complete);
  EXPECT_EQ(back->files[0].piece_layer, t.files[0].piece_layer);
}

TEST(BtInfoOfTorrent, AShareKeepsAllThreeTorrents) {
  const auto bytes = pattern(600'000);
  protocol::manifest m{"f.bin", bytes.size(), 262144, std::vector<protocol::sha256_digest>(3)};
  const auto info = make_bt_info(m, *bt::hash_file({m.size, m.chunk_size}, bytes));
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)->formats.size(), 3u);
  EXPECT_FALSE((*info)->downloaded);
  EXPECT_EQ((*info)->piece_count(), 3u);
}

}  // namespace
}  // namespace peerlab::peer

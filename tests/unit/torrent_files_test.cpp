// A multi-file torrent's piece space: which file ranges a range of it covers.

#include "protocol/torrent_files.hpp"

#include <gtest/gtest.h>

namespace peerlab::protocol::bt {
namespace {

constexpr std::uint32_t small_piece = 16'384;

torrent_file_entry entry(std::vector<std::string> path, std::uint64_t length, bool pad = false) {
  torrent_file_entry e;
  e.path = std::move(path);
  e.length = length;
  e.pad = pad;
  return e;
}

// A v1 (or hybrid) torrent: files at their offsets in the concatenation.
torrent_info v1_of(std::vector<torrent_file_entry> files,
                   torrent_format format = torrent_format::v1) {
  torrent_info t;
  t.format = format;
  t.multi_file = true;
  t.piece_length = small_piece;
  std::uint64_t at = 0;
  for (auto& f : files) {
    f.offset = at;
    at += f.length;
  }
  t.files = std::move(files);
  t.total_size = at;
  return t;
}

torrent_info v2_of(std::vector<torrent_file_entry> files) {
  auto t = v1_of(std::move(files), torrent_format::v2);
  return t;
}

TEST(TorrentFiles, AnUnalignedV1PieceSpansSeveralFiles) {
  // a: 10000, b: 3000, c: 20000 — piece 0 holds a, b and the start of c.
  const auto l = make_file_layout(
      v1_of({entry({"a"}, 10'000), entry({"d", "b"}, 3'000), entry({"d", "c"}, 20'000)}));
  ASSERT_TRUE(l) << l.error_message();
  EXPECT_EQ(l->total_bytes, 33'000u);
  EXPECT_EQ(l->piece_count(), 3u);
  EXPECT_EQ(l->piece_size(2), 33'000u - 2 * small_piece);
  EXPECT_EQ(l->files[1].path, "d/b");
  const auto r = ranges_of(*l, 0, small_piece);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].file, 0u);
  EXPECT_EQ(r[0].length, 10'000u);
  EXPECT_EQ(r[1].file, 1u);
  EXPECT_EQ(r[1].file_offset, 0u);
  EXPECT_EQ(r[1].length, 3'000u);
  EXPECT_EQ(r[1].space_offset, 10'000u);
  EXPECT_EQ(r[2].file, 2u);
  EXPECT_EQ(r[2].file_offset, 0u);
  EXPECT_EQ(r[2].length, small_piece - 13'000u);
  // Piece 1 lies in c alone, at c's offset 3384.
  const auto one = ranges_of(*l, small_piece, small_piece);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].file, 2u);
  EXPECT_EQ(one[0].file_offset, small_piece - 13'000u);
  // Which pieces each file touches.
  EXPECT_EQ(pieces_of(*l, 0).first, 0u);
  EXPECT_EQ(pieces_of(*l, 0).end, 1u);
  EXPECT_EQ(pieces_of(*l, 2).first, 0u);
  EXPECT_EQ(pieces_of(*l, 2).end, 3u);
}

TEST(TorrentFiles, TheLastShortPieceEndsWithTheSpace) {
  const auto l = make_file_layout(v1_of({entry({"a"}, small_piece + 100)}));
  ASSERT_TRUE(l);
  const auto r = ranges_of(*l, small_piece, small_piece);  // asks past the end
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].length, 100u);
  EXPECT_TRUE(ranges_of(*l, 2 * small_piece, small_piece).empty());
}

TEST(TorrentFiles, ZeroLengthFilesCoverNoBytesAndNoPieces) {
  const auto l = make_file_layout(
      v1_of({entry({"a"}, 100), entry({"empty"}, 0), entry({"b"}, 100), entry({"z"}, 0)}));
  ASSERT_TRUE(l);
  const auto r = ranges_of(*l, 0, small_piece);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].file, 0u);
  EXPECT_EQ(r[1].file, 2u);
  EXPECT_EQ(r[1].file_offset, 0u);
  EXPECT_EQ(pieces_of(*l, 1).first, pieces_of(*l, 1).end);
  EXPECT_EQ(pieces_of(*l, 3).first, pieces_of(*l, 3).end);
}

TEST(TorrentFiles, HybridPadFilesAreKeptAndMarked) {
  const auto l = make_file_layout(
      v1_of({entry({"a"}, 5'000), entry({".pad", "11384"}, 11'384, true), entry({"b"}, 20'000)},
            torrent_format::hybrid));
  ASSERT_TRUE(l);
  ASSERT_EQ(l->files.size(), 3u);
  EXPECT_TRUE(l->files[1].pad);
  EXPECT_EQ(l->files[1].path, "");
  EXPECT_EQ(l->files[2].offset, small_piece);
  const auto r = ranges_of(*l, 0, small_piece);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].file, 1u);  // the pad's bytes are a range too (the caller sends zeros)
  EXPECT_EQ(file_at_piece(*l, 0), 0u);
  EXPECT_EQ(file_at_piece(*l, 1), 2u);
}

TEST(TorrentFiles, AV2OnlyTorrentPadsEachFileButTheLastToAPiece) {
  const auto l = make_file_layout(v2_of(
      {entry({"a"}, 5'000), entry({"b"}, 0), entry({"c"}, 2 * small_piece + 1), entry({"d"}, 7)}));
  ASSERT_TRUE(l);
  // a, pad, b (empty), c, pad, d: d is not padded.
  ASSERT_EQ(l->files.size(), 6u);
  EXPECT_TRUE(l->files[1].pad);
  EXPECT_EQ(l->files[1].length, small_piece - 5'000u);
  EXPECT_EQ(l->files[3].path, "c");
  EXPECT_EQ(l->files[3].offset, small_piece);
  EXPECT_TRUE(l->files[4].pad);
  EXPECT_EQ(l->files[5].offset, 4u * small_piece);
  EXPECT_EQ(l->total_bytes, 4u * small_piece + 7);
  EXPECT_EQ(l->piece_count(), 5u);  // BEP 52: 1 + 3 + 1 pieces
  EXPECT_EQ(file_at_piece(*l, 0), 0u);
  EXPECT_EQ(file_at_piece(*l, 3), 3u);
  EXPECT_EQ(file_at_piece(*l, 4), 5u);
  EXPECT_EQ(pieces_of(*l, 3).first, 1u);
  EXPECT_EQ(pieces_of(*l, 3).end, 4u);
}

TEST(TorrentFiles, ATrailingEmptyFileAddsNoPad) {
  const auto l = make_file_layout(v2_of({entry({"a"}, 5'000), entry({"z"}, 0)}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->total_bytes, 5'000u);
}

TEST(TorrentFiles, FilesThatAreNotContiguousAreRefused) {
  auto t = v1_of({entry({"a"}, 100), entry({"b"}, 100)});
  t.files[1].offset = 150;
  EXPECT_FALSE(make_file_layout(t));
  t = v1_of({entry({"a"}, 100)});
  t.total_size = 99;
  EXPECT_FALSE(make_file_layout(t));
}

TEST(TorrentFiles, OnlySelectsFilesAndDirectoriesByPath) {
  const auto l =
      make_file_layout(v1_of({entry({"a"}, 10), entry({"d", "b"}, 10), entry({"d", "c"}, 10),
                              entry({"dd"}, 10), entry({".pad", "1"}, 10, true)}));
  ASSERT_TRUE(l);
  const auto all = select_files(*l, {});
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<bool>{true, true, true, true, false}));
  const auto d = select_files(*l, {"d/"});
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (std::vector<bool>{false, true, true, false, false}));  // not "dd"
  const auto one = select_files(*l, {"d/c", "a"});
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, (std::vector<bool>{true, false, true, false, false}));
  EXPECT_FALSE(select_files(*l, {"nope"}));
  EXPECT_FALSE(select_files(*l, {"/a"}));
}

}  // namespace
}  // namespace peerlab::protocol::bt

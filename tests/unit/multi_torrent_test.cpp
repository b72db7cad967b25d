// A folder as a multi-file torrent: the padded last-piece hash, the piece
// length choice, the three formats built and read back by parse_torrent
// (files, offsets, pads, hashes, info-hashes), what is refused, and the
// folder's hashes as kept in the data directory.

#include "protocol/multi_torrent.hpp"

#include <gtest/gtest.h>

#include <map>

#include "peer/folder_torrent.hpp"
#include "test_data.hpp"

namespace peerlab::protocol::bt {
namespace {

constexpr std::uint32_t piece_bytes = 32 * 1024;

struct sample_file {
  std::vector<std::string> path;
  std::vector<std::uint8_t> bytes;
};

// Given out of order on purpose; "a/x.bin" spans three pieces, "a/y/z" is
// exactly one, "empty" has no byte.
std::vector<sample_file> sample_files() {
  return {{{"b.txt"}, pattern(40'000, 1)},
          {{"empty"}, {}},
          {{"a.txt"}, pattern(1, 2)},
          {{"a", "x.bin"}, pattern(70'000, 3)},
          {{"a", "y", "z"}, pattern(piece_bytes, 4)}};
}

// The same files in canonical order (a v2 file tree's): "a/…" before "a.txt".
const std::vector<std::vector<std::string>> canonical = {
    {"a", "x.bin"}, {"a", "y", "z"}, {"a.txt"}, {"b.txt"}, {"empty"}};

multi_torrent_source source_of(const std::vector<sample_file>& files) {
  multi_torrent_source s;
  s.name = "class-notes";
  s.piece_length = piece_bytes;
  s.announce = "http://127.0.0.1:8080/announce";
  for (const auto& f : files) {
    auto h = hash_file_aligned({f.bytes.size(), piece_bytes}, f.bytes);
    EXPECT_TRUE(h.ok()) << h.error_message();
    s.files.push_back({f.path, f.bytes.size(), *h});
  }
  return s;
}

// The v1 piece space computed independently: files in canonical order, each
// padded with zeros to a piece except the last.
std::vector<std::uint8_t> padded_concatenation(const std::vector<sample_file>& files) {
  std::map<std::vector<std::string>, const sample_file*> by_path;
  for (const auto& f : files)
    by_path[f.path] = &f;
  std::vector<std::uint8_t> out;
  for (std::size_t k = 0; k < canonical.size(); ++k) {
    const auto& bytes = by_path.at(canonical[k])->bytes;
    out.insert(out.end(), bytes.begin(), bytes.end());
    if (k + 1 < canonical.size() && out.size() % piece_bytes != 0)
      out.resize(out.size() + piece_bytes - out.size() % piece_bytes, 0);
  }
  return out;
}

TEST(MultiTorrent, PaddedLastPieceIsTheSha1OfTheTailAndZeros) {
  const auto data = pattern(40'000, 7);
  const auto h = hash_file_aligned({data.size(), piece_bytes}, data);
  ASSERT_TRUE(h.ok()) << h.error_message();
  ASSERT_TRUE(h->v1_padded_last);
  std::vector<std::uint8_t> tail(data.begin() + piece_bytes, data.end());
  EXPECT_EQ(h->hashes.v1_pieces.back(), sha1(tail));  // unpadded, as a single file has it
  tail.resize(piece_bytes, 0);
  EXPECT_EQ(*h->v1_padded_last, sha1(tail));
  // Everything else is as without padding; fed in slices, the same.
  EXPECT_EQ(h->hashes, *hash_file({data.size(), piece_bytes}, data));
  auto sliced = range_hasher::create({data.size(), piece_bytes}, 0, data.size());
  ASSERT_TRUE(sliced.ok());
  for (std::size_t at = 0; at < data.size(); at += 1000)
    sliced->update(std::span(data).subspan(at, std::min<std::size_t>(1000, data.size() - at)));
  const auto r = sliced->finish(tail_padding::also_with_pad);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->v1_padded_last, h->v1_padded_last);
}

TEST(MultiTorrent, NoPaddedHashWhenTheFileEndsOnAPiece) {
  const auto data = pattern(2 * piece_bytes, 7);
  const auto h = hash_file_aligned({data.size(), piece_bytes}, data);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->v1_padded_last);
  auto plain = range_hasher::create({data.size(), piece_bytes}, 0, data.size());
  plain->update(data);
  EXPECT_FALSE(plain->finish()->v1_padded_last);  // not asked for
}

TEST(MultiTorrent, PieceLengthFromTheFolderSizes) {
  const std::vector<std::uint64_t> one_gib{std::uint64_t{1} << 30};
  EXPECT_EQ(multi_torrent_piece_length(one_gib), 256u * 1024);
  // A thousand small files: pads of 256 KiB would outweigh them.
  const std::vector<std::uint64_t> small(1000, 100);
  EXPECT_EQ(multi_torrent_piece_length(small), min_piece_bytes);
  // 1 TiB: no more than max_multi_torrent_pieces pieces.
  const std::vector<std::uint64_t> huge{std::uint64_t{1} << 40};
  const auto length = multi_torrent_piece_length(huge);
  EXPECT_EQ(length, 4u * 1024 * 1024);
  EXPECT_LE(aligned_piece_count(huge, length), max_multi_torrent_pieces);
  // Each file starts on a piece: counts add up per file.
  const std::vector<std::uint64_t> two{1, 1};
  EXPECT_EQ(aligned_piece_count(two, piece_bytes), 2u);
}

TEST(MultiTorrent, V1HasPadFilesAndTheHashesOfThePaddedPieceSpace) {
  const auto files = sample_files();
  const auto built = make_multi_torrent(source_of(files), torrent_format::v1);
  ASSERT_TRUE(built.ok()) << built.error_message();
  const auto parsed = parse_torrent(built->torrent.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error_message();
  EXPECT_EQ(parsed->format, torrent_format::v1);
  EXPECT_TRUE(parsed->multi_file);
  EXPECT_EQ(parsed->name, "class-notes");
  EXPECT_EQ(parsed->piece_length, piece_bytes);
  EXPECT_EQ(parsed->trackers, std::vector<std::string>{"http://127.0.0.1:8080/announce"});

  // Files in canonical order; a pad after each that ends off a piece, but
  // the last; every file on a piece boundary.
  std::vector<std::vector<std::string>> order;
  for (const auto& f : parsed->files) {
    if (f.pad) {
      EXPECT_EQ(f.path, (std::vector<std::string>{".pad", std::to_string(f.length)}));
      EXPECT_EQ((f.offset + f.length) % piece_bytes, 0u);
    } else {
      EXPECT_EQ(f.offset % piece_bytes, 0u) << f.path.back();
      order.push_back(f.path);
    }
  }
  EXPECT_EQ(order, canonical);
  ASSERT_EQ(parsed->files.size(), built->layout.size());
  for (std::size_t i = 0; i < parsed->files.size(); ++i) {
    EXPECT_EQ(parsed->files[i].path, built->layout[i].path);
    EXPECT_EQ(parsed->files[i].offset, built->layout[i].offset);
    EXPECT_EQ(parsed->files[i].length, built->layout[i].length);
    EXPECT_EQ(parsed->files[i].pad, built->layout[i].pad);
  }
  // a/x.bin 70000 → pad 28304; a/y/z one whole piece → none; a.txt 1 byte
  // → pad 32767; b.txt 40000 → pad 25536; empty: the last, no pad.
  EXPECT_EQ(parsed->files.size(), 8u);
  EXPECT_FALSE(parsed->files.back().pad);

  const auto space = padded_concatenation(files);
  EXPECT_EQ(parsed->total_size, space.size());
  EXPECT_EQ(built->total_size, space.size());
  ASSERT_EQ(parsed->v1_pieces.size(), (space.size() + piece_bytes - 1) / piece_bytes);
  for (std::size_t i = 0; i < parsed->v1_pieces.size(); ++i) {
    const auto at = i * piece_bytes;
    EXPECT_EQ(parsed->v1_pieces[i], sha1(std::span(space).subspan(
                                        at, std::min<std::size_t>(piece_bytes, space.size() - at))))
        << i;
  }
  EXPECT_EQ(parsed->hashes.v1, sha1(built->torrent.info_bytes));
  EXPECT_FALSE(parsed->hashes.v2);
  EXPECT_EQ(parsed->hashes, built->torrent.hashes);
}

TEST(MultiTorrent, V2HasAFileTreeWithEachFilesRootAndPieceLayers) {
  const auto files = sample_files();
  const auto source = source_of(files);
  const auto built = make_multi_torrent(source, torrent_format::v2);
  ASSERT_TRUE(built.ok()) << built.error_message();
  const auto parsed = parse_torrent(built->torrent.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error_message();
  EXPECT_EQ(parsed->format, torrent_format::v2);
  EXPECT_TRUE(parsed->multi_file);
  EXPECT_TRUE(parsed->piece_layers_complete);
  ASSERT_EQ(parsed->files.size(), canonical.size());
  std::map<std::vector<std::string>, const multi_torrent_file*> by_path;
  for (const auto& f : source.files)
    by_path[f.path] = &f;
  for (std::size_t i = 0; i < canonical.size(); ++i) {
    const auto& f = parsed->files[i];
    EXPECT_EQ(f.path, canonical[i]);
    const auto& want = *by_path.at(f.path);
    EXPECT_EQ(f.length, want.size);
    if (want.size > 0) {
      EXPECT_EQ(f.pieces_root, want.hashes.hashes.pieces_root);
    } else {
      EXPECT_FALSE(f.pieces_root);
    }
    EXPECT_EQ(f.piece_layer, want.hashes.hashes.piece_layer);  // only a/x.bin has one
  }
  EXPECT_TRUE(parsed->v1_pieces.empty());
  EXPECT_EQ(parsed->hashes.v2, sha256_of(built->torrent.info_bytes));
  EXPECT_FALSE(parsed->hashes.v1);
  // Its piece space is v1's: files aligned, pads between.
  const auto v1 = make_multi_torrent(source, torrent_format::v1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(built->total_size, v1->total_size);
  ASSERT_EQ(built->layout.size(), v1->layout.size());
  for (std::size_t i = 0; i < built->layout.size(); ++i)
    EXPECT_EQ(built->layout[i].offset, v1->layout[i].offset);
}

TEST(MultiTorrent, HybridIsBothConsistentWithBothInfoHashes) {
  const auto files = sample_files();
  const auto source = source_of(files);
  const auto built = make_multi_torrent(source, torrent_format::hybrid);
  ASSERT_TRUE(built.ok()) << built.error_message();
  const auto parsed = parse_torrent(built->torrent.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error_message();  // checks v1 and v2 agree
  EXPECT_EQ(parsed->format, torrent_format::hybrid);
  EXPECT_EQ(parsed->hashes.v1, sha1(built->torrent.info_bytes));
  EXPECT_EQ(parsed->hashes.v2, sha256_of(built->torrent.info_bytes));
  EXPECT_EQ(parsed->hashes, built->torrent.hashes);
  const auto v1 = parse_torrent(make_multi_torrent(source, torrent_format::v1)->torrent.bytes);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(parsed->v1_pieces, v1->v1_pieces);
  ASSERT_EQ(parsed->files.size(), v1->files.size());
  for (std::size_t i = 0; i < parsed->files.size(); ++i) {
    EXPECT_EQ(parsed->files[i].path, v1->files[i].path);
    EXPECT_EQ(parsed->files[i].offset, v1->files[i].offset);
    EXPECT_EQ(parsed->files[i].pad, v1->files[i].pad);
    EXPECT_EQ(parsed->files[i].pieces_root.has_value(),
              !parsed->files[i].pad && parsed->files[i].length > 0);
  }
  // Info-hashes differ by format, and the info dictionary names no tracker.
  auto other = source;
  other.announce = "udp://tracker.example:6969";
  EXPECT_EQ(make_multi_torrent(other, torrent_format::hybrid)->torrent.hashes,
            built->torrent.hashes);
  EXPECT_NE(v1->hashes.v1, parsed->hashes.v1);
}

TEST(MultiTorrent, RefusesWhatATorrentCannotSay) {
  const auto good = source_of(sample_files());
  const auto refused = [](const multi_torrent_source& s,
                          torrent_format f = torrent_format::hybrid) {
    return !make_multi_torrent(s, f).ok();
  };
  EXPECT_FALSE(refused(good));
  auto twice = good;
  twice.files.push_back(twice.files.front());
  EXPECT_TRUE(refused(twice));
  auto file_and_directory = good;
  file_and_directory.files.push_back(good.files[2]);
  file_and_directory.files.back().path = {"a"};  // "a" is a directory already
  EXPECT_TRUE(refused(file_and_directory));
  auto escaping = good;
  escaping.files[0].path = {"..", "etc"};
  EXPECT_TRUE(refused(escaping));
  auto no_pad_hash = good;
  no_pad_hash.files[0].hashes.v1_padded_last.reset();  // b.txt is followed by "empty"
  EXPECT_TRUE(refused(no_pad_hash, torrent_format::v1));
  EXPECT_FALSE(refused(no_pad_hash, torrent_format::v2));  // v2 needs none
  auto wrong_size = good;
  wrong_size.files[0].size += piece_bytes;
  EXPECT_TRUE(refused(wrong_size));
  auto nothing = good;
  nothing.files = {{{"empty"}, 0, {}}};
  EXPECT_TRUE(refused(nothing));  // no byte: no piece, no torrent
  auto bad_length = good;
  bad_length.piece_length = 3000;
  EXPECT_TRUE(refused(bad_length));
  auto no_files = good;
  no_files.files.clear();
  EXPECT_TRUE(refused(no_files));
}

TEST(MultiTorrent, FolderHashesRoundTripThroughTheirFile) {
  folder_manifest m;
  m.name = "notes";
  const auto a = pattern(300'000, 1), b = pattern(5, 2);
  m.entries = {{folder_entry_kind::file, "a.bin", a.size(), {}},
               {folder_entry_kind::empty_directory, "d", 0, {}},
               {folder_entry_kind::file, "e", 0, {}},
               {folder_entry_kind::file, "z.txt", b.size(), {}}};
  peer::folder_bt_hashes h;
  h.piece_length = peer::folder_piece_length(m);
  // At 256 KiB the pads (224 288 + 262 139 bytes) would outweigh the files.
  EXPECT_EQ(h.piece_length, 128u * 1024);
  h.files.resize(m.entries.size());
  h.files[0] = *hash_file_aligned({a.size(), h.piece_length}, a);
  h.files[2] = *hash_file_aligned({0, h.piece_length}, {});
  h.files[3] = *hash_file_aligned({b.size(), h.piece_length}, b);
  const auto bytes = peer::encode_folder_bt(h, m);
  const auto back = peer::decode_folder_bt(bytes, m);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(back->piece_length, h.piece_length);
  EXPECT_EQ(back->files, h.files);
  // Cut short, or another folder's sizes: refused (hashed again instead).
  EXPECT_FALSE(peer::decode_folder_bt(std::span(bytes).first(bytes.size() - 1), m).ok());
  auto grown = m;
  grown.entries[0].size += h.piece_length;
  EXPECT_FALSE(peer::decode_folder_bt(bytes, grown).ok());
  // a.bin's piece layer (after the magic, the piece length, its three v1
  // hashes, the padded flag and hash, and its root) no longer hashes to its root.
  auto corrupt = bytes;
  corrupt[20 + 4 + 3 * 20 + 1 + 20 + 32 + 3] ^= 1;
  EXPECT_FALSE(peer::decode_folder_bt(corrupt, m).ok());
  // Its info-hashes: all three formats.
  peer::add_folder_info_hashes(h, m);
  ASSERT_TRUE(h.info_hashes);
  EXPECT_TRUE((*h.info_hashes)[static_cast<std::size_t>(torrent_format::hybrid)].v1);
  EXPECT_TRUE((*h.info_hashes)[static_cast<std::size_t>(torrent_format::hybrid)].v2);
}

TEST(MultiTorrent, FolderTorrentMapsItsPieceSpaceToTheFilesOnDisk) {
  // What a multi-file seeder serves: every file and pad with its offset, and
  // where the file is (no disk is read to build it).
  peer::folder_record r;
  r.manifest.name = "notes";
  const auto a = pattern(40'000, 1), b = pattern(7, 2);
  r.manifest.entries = {{folder_entry_kind::file, "sub/a.bin", a.size(), {}},
                        {folder_entry_kind::empty_directory, "sub/empty", 0, {}},
                        {folder_entry_kind::file, "sub.txt", b.size(), {}}};
  r.root = "/srv/notes";
  r.shared = r.complete = true;
  r.stamps = {peer::file_stamp{a.size(), 1, 2, 3}, std::nullopt,
              peer::file_stamp{b.size(), 4, 5, 6}};
  auto h = std::make_shared<peer::folder_bt_hashes>();
  h->piece_length = peer::folder_piece_length(r.manifest);
  EXPECT_EQ(h->piece_length, min_piece_bytes);  // tiny files: pads kept small
  h->files.resize(3);
  h->files[0] = *hash_file_aligned({a.size(), h->piece_length}, a);
  h->files[2] = *hash_file_aligned({b.size(), h->piece_length}, b);
  EXPECT_FALSE(peer::make_folder_torrent(r, torrent_format::hybrid, "").ok());  // no hashes yet
  r.bt = h;
  const auto t = peer::make_folder_torrent(r, torrent_format::hybrid, "http://t/announce");
  ASSERT_TRUE(t.ok()) << t.error_message();
  // sub/a.bin: 3 pieces of 16 KiB (the last padded), then sub.txt, last, unpadded.
  ASSERT_EQ(t->files.size(), 3u);
  EXPECT_EQ(t->files[0].path, (std::vector<std::string>{"sub", "a.bin"}));
  EXPECT_EQ(t->files[0].disk_path, std::filesystem::path("/srv/notes/sub/a.bin"));
  EXPECT_EQ(t->files[0].entry, 0u);
  EXPECT_EQ(t->files[0].stamp, r.stamps[0]);
  EXPECT_TRUE(t->files[1].pad);
  EXPECT_EQ(t->files[1].offset, 40'000u);
  EXPECT_EQ(t->files[1].length, 3u * 16384 - 40'000);
  EXPECT_TRUE(t->files[1].disk_path.empty());
  EXPECT_EQ(t->files[2].offset, 3u * 16384);
  EXPECT_EQ(t->files[2].disk_path, std::filesystem::path("/srv/notes/sub.txt"));
  EXPECT_EQ(t->total_size, 3u * 16384 + 7);
  EXPECT_EQ(t->piece_count, 4u);
  EXPECT_NE(t->magnet.find("xt=urn:btih:"), std::string::npos);
  EXPECT_NE(t->magnet.find("xt=urn:btmh:1220"), std::string::npos);
  const auto parsed = parse_torrent(t->torrent.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error_message();
  EXPECT_EQ(parsed->hashes, t->torrent.hashes);
  EXPECT_EQ(parsed->name, "notes");
  // A file no longer in place: no torrent.
  r.stamps[2].reset();
  EXPECT_FALSE(peer::make_folder_torrent(r, torrent_format::v1, "").ok());
}

}  // namespace
}  // namespace peerlab::protocol::bt

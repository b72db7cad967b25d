// A torrent download in the store: its pieces are its chunks, checked
// against the torrent's hashes; it is kept in the data directory so that a
// restarted node resumes it with the same chunk map, and once complete it is
// seeded under its own info-hash.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "peer/disk_io.hpp"
#include "peer/store.hpp"
#include "protocol/bencode.hpp"

namespace peerlab::peer {
namespace {

namespace bt = protocol::bt;
namespace fs = std::filesystem;

std::vector<std::uint8_t> file_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>((i * 13 + i / 4096) % 251);
  return out;
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string test = testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '-');  // a parameterized test's name
    path = fs::temp_directory_path() /
           ("peerlab-store-torrent-" + std::to_string(::getpid()) + "-" + test);
    fs::remove_all(path);
    fs::create_directories(path / "data");
    fs::create_directories(path / "out");
  }
  ~temp_dir() { fs::remove_all(path); }
};

constexpr std::uint32_t piece_length = 32'768;
constexpr std::size_t file_size = 4 * piece_length + 5'000;  // five pieces, the last short

bt::torrent_info torrent_of(bt::torrent_format f, const std::vector<std::uint8_t>& file,
                            std::string name = "lecture.bin") {
  bt::torrent_source s;
  s.name = std::move(name);
  s.size = file.size();
  s.piece_length = piece_length;
  s.hashes = *bt::hash_file({s.size, piece_length}, file);
  s.announce = "http://127.0.0.1:1/announce";
  const auto built = bt::make_torrent(s, f);
  EXPECT_TRUE(built) << built.error_message();
  return *bt::parse_torrent(built->bytes);
}

std::span<const std::uint8_t> piece(const std::vector<std::uint8_t>& file, std::size_t i) {
  const auto offset = i * piece_length;
  return std::span(file).subspan(offset, std::min<std::size_t>(piece_length, file.size() - offset));
}

// What the swarm does with a received piece: verify and write it through
// the disk layer, then record it.
asio::awaitable<void> verify_and_write(disk_io& disk, const content& item, std::size_t i,
                                       const std::vector<std::uint8_t>& data,
                                       chunk_write& outcome) {
  auto writing = disk.write_chunk(item.partial, item.chunk_map, item.manifest.chunk_offset(i),
                                  static_cast<std::uint32_t>(i), data, item.check(i));
  outcome = (co_await std::move(writing)).first;
}

chunk_write write_piece(store& s, const protocol::content_id& id, std::size_t i,
                        const std::vector<std::uint8_t>& data) {
  asio::io_context io;
  disk_io disk;
  auto outcome = chunk_write::failed;
  asio::co_spawn(io, verify_and_write(disk, *s.find(id), i, data, outcome), asio::detached);
  io.run();
  if (outcome == chunk_write::written) s.mark_chunk(id, i);
  return outcome;
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class StoreTorrentDownload : public testing::TestWithParam<bt::torrent_format> {};

TEST_P(StoreTorrentDownload, DownloadResumesAfterARestartAndIsSeededOnceComplete) {
  const auto format = GetParam();
  temp_dir dir;
  const auto file = file_bytes(file_size);
  const auto t = torrent_of(format, file);
  const auto target = dir.path / "out" / "lecture.bin";
  const auto wire = t.hashes.wire_id();

  protocol::content_id id{};
  {
    store s(dir.path / "data");
    ASSERT_TRUE(s.load());
    auto prepared = s.prepare_torrent_download(t, target, std::nullopt);
    ASSERT_TRUE(prepared) << prepared.error_message();
    id = prepared->id;
    EXPECT_EQ(id, torrent_content_id(t));
    EXPECT_EQ(prepared->torrent, format);
    ASSERT_TRUE(prepared->bt);
    EXPECT_EQ(prepared->bt->of(format).hashes, t.hashes);
    // The placeholder manifest: sizes only, never written as a manifest.
    EXPECT_EQ(prepared->manifest.name, "lecture.bin");
    EXPECT_EQ(prepared->manifest.size, file_size);
    EXPECT_EQ(prepared->manifest.chunk_size, piece_length);
    EXPECT_EQ(prepared->manifest.chunk_count(), 5u);
    EXPECT_EQ(prepared->manifest.chunk_length(4), 5'000u);
    EXPECT_EQ(prepared->manifest.chunk_offset(4), 4u * piece_length);
    EXPECT_EQ(prepared->have.count(), 0u);
    EXPECT_EQ(fs::file_size(prepared->partial_path()), file_size);
    EXPECT_TRUE(fs::exists(dir.path / "data" / "torrents" / (protocol::to_hex(id) + ".torrent")));
    EXPECT_FALSE(
        fs::exists(dir.path / "data" / "manifests" / (protocol::to_hex(id) + ".manifest")));
    s.add_download(std::move(*prepared));

    // Named by its info-hash while partial; the caller sees it is partial.
    const auto match = s.find_bt(wire);
    ASSERT_TRUE(match);
    EXPECT_EQ(match->item->id, id);
    EXPECT_FALSE(match->item->complete);

    EXPECT_EQ(write_piece(s, id, 0, {piece(file, 0).begin(), piece(file, 0).end()}),
              chunk_write::written);
    EXPECT_EQ(write_piece(s, id, 4, {piece(file, 4).begin(), piece(file, 4).end()}),
              chunk_write::written);
    // A corrupt piece, or one sent for another index, is never written.
    auto corrupt = std::vector<std::uint8_t>(piece(file, 2).begin(), piece(file, 2).end());
    corrupt[100] ^= 1;
    EXPECT_EQ(write_piece(s, id, 2, corrupt), chunk_write::corrupt);
    EXPECT_EQ(write_piece(s, id, 3, {piece(file, 1).begin(), piece(file, 1).end()}),
              chunk_write::corrupt);
  }

  const auto catalog = nlohmann::json::parse(read_file(dir.path / "data" / "catalog.json"));
  ASSERT_EQ(catalog.size(), 1u);
  EXPECT_EQ(catalog[0].at("torrent"), bt::to_string(format));

  {
    store s(dir.path / "data");
    ASSERT_TRUE(s.load());
    const auto* item = s.find(id);
    ASSERT_NE(item, nullptr);
    EXPECT_FALSE(item->complete);
    EXPECT_EQ(item->torrent, format);
    ASSERT_TRUE(item->bt);
    EXPECT_EQ(item->bt->of(format).hashes, t.hashes);
    EXPECT_EQ(item->bt->trackers, t.trackers);
    EXPECT_EQ(item->manifest.chunk_count(), 5u);
    EXPECT_EQ(item->have.count(), 2u);
    EXPECT_TRUE(item->have.has(0));
    EXPECT_TRUE(item->have.has(4));
    const auto match = s.find_bt(wire);
    ASSERT_TRUE(match);
    EXPECT_EQ(match->item, item);
    EXPECT_EQ(match->format, format);

    for (std::size_t i : {1, 2, 3})
      EXPECT_EQ(write_piece(s, id, i, {piece(file, i).begin(), piece(file, i).end()}),
                chunk_write::written);
    EXPECT_TRUE(s.find(id)->have.complete());
    // What disk_io::finish_download does: into place, then recorded.
    fs::rename(item->partial_path(), target);
    const auto stamp = store::stamp_of(target);
    ASSERT_TRUE(stamp);
    s.complete_download(id, *stamp);
  }
  EXPECT_EQ(read_file(target), file);

  {
    store s(dir.path / "data");
    ASSERT_TRUE(s.load());
    const auto* item = s.find(id);
    ASSERT_NE(item, nullptr);
    EXPECT_TRUE(item->complete);
    EXPECT_TRUE(item->have.complete());
    EXPECT_EQ(item->path, target);
    const auto match = s.find_bt(wire);
    ASSERT_TRUE(match);
    EXPECT_TRUE(match->item->complete);
    EXPECT_EQ(match->item->bt->of(format).info_bytes, t.info_bytes);
    // No .bt hashes file: the kept torrent holds them.
    EXPECT_FALSE(fs::exists(dir.path / "data" / "manifests" / (protocol::to_hex(id) + ".bt")));

    s.remove(id);
    EXPECT_FALSE(s.find_bt(wire));
    EXPECT_FALSE(fs::exists(dir.path / "data" / "torrents" / (protocol::to_hex(id) + ".torrent")));
  }
  store s(dir.path / "data");
  ASSERT_TRUE(s.load());
  EXPECT_EQ(s.find(id), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Formats, StoreTorrentDownload,
                         testing::Values(bt::torrent_format::v1, bt::torrent_format::v2,
                                         bt::torrent_format::hybrid),
                         [](const auto& p) { return std::string(bt::to_string(p.param)); });

TEST(StoreTorrent, PiecesAreCheckedAgainstTheTorrentsOwnHashes) {
  const auto file = file_bytes(file_size);
  const auto one_piece = file_bytes(20'000);
  for (const auto f :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    content c;
    const auto t = torrent_of(f, file);
    c.torrent = f;
    c.bt = *make_bt_info(t);
    c.manifest.chunk_hashes.resize(5);
    // v1's SHA-1 wherever the torrent has one; else the v2 piece layer.
    EXPECT_EQ(c.check(0).what,
              f == bt::torrent_format::v2 ? chunk_check::kind::merkle : chunk_check::kind::sha1);
    for (std::size_t i = 0; i < 5; ++i) {
      EXPECT_TRUE(matches(c.check(i), piece(file, i))) << bt::to_string(f) << " piece " << i;
      EXPECT_FALSE(matches(c.check(i), piece(file, (i + 1) % 5)));
    }
    EXPECT_FALSE(matches(c.check(5), piece(file, 0)));  // no such piece

    // A v2 file of one piece is checked against its pieces root.
    content small;
    small.torrent = f;
    small.bt = *make_bt_info(torrent_of(f, one_piece));
    small.manifest.chunk_hashes.resize(1);
    EXPECT_TRUE(matches(small.check(0), one_piece)) << bt::to_string(f);
  }
  // A peerlab chunk: its manifest's SHA-256.
  content share;
  share.manifest.chunk_hashes = {protocol::sha256(piece(file, 0))};
  EXPECT_EQ(share.check(0).what, chunk_check::kind::sha256);
  EXPECT_TRUE(matches(share.check(0), piece(file, 0)));
}

TEST(StoreTorrent, AMissingOrForeignKeptTorrentDropsTheDownload) {
  temp_dir dir;
  const auto file = file_bytes(file_size);
  const auto a = torrent_of(bt::torrent_format::v1, file, "a.bin");
  const auto b = torrent_of(bt::torrent_format::v2, file, "b.bin");
  const auto c = torrent_of(bt::torrent_format::hybrid, file, "c.bin");
  const auto kept = [&](const bt::torrent_info& t) {
    return dir.path / "data" / "torrents" / (protocol::to_hex(torrent_content_id(t)) + ".torrent");
  };
  {
    store s(dir.path / "data");
    ASSERT_TRUE(s.load());
    for (const auto* t : {&a, &b, &c}) {
      auto prepared = s.prepare_torrent_download(*t, dir.path / "out" / t->name, std::nullopt);
      ASSERT_TRUE(prepared) << prepared.error_message();
      s.add_download(std::move(*prepared));
    }
  }
  fs::remove(kept(a));                                                    // missing
  fs::copy_file(kept(c), kept(b), fs::copy_options::overwrite_existing);  // another torrent's
  store s(dir.path / "data");
  ASSERT_TRUE(s.load());
  EXPECT_EQ(s.find(torrent_content_id(a)), nullptr);
  EXPECT_EQ(s.find(torrent_content_id(b)), nullptr);
  ASSERT_NE(s.find(torrent_content_id(c)), nullptr);
  EXPECT_FALSE(s.find_bt(a.hashes.wire_id()));
  EXPECT_TRUE(s.find_bt(c.hashes.wire_id()));
  {
    std::ofstream(kept(c), std::ios::trunc) << "d4:infoi1ee";  // corrupt
  }
  store again(dir.path / "data");
  ASSERT_TRUE(again.load());
  EXPECT_EQ(again.find(torrent_content_id(c)), nullptr);
}

TEST(StoreTorrent, ADownloadThatCannotBeReopenedIsKeptUntilItCanBe) {
  temp_dir dir;
  const auto file = file_bytes(file_size);
  const auto t = torrent_of(bt::torrent_format::v2, file);
  const auto target = dir.path / "out" / "lecture.bin";
  const auto id = torrent_content_id(t);
  fs::path partial;
  {
    store s(dir.path / "data");
    ASSERT_TRUE(s.load());
    auto prepared = s.prepare_torrent_download(t, target, std::nullopt);
    ASSERT_TRUE(prepared) << prepared.error_message();
    partial = prepared->partial_path();
    s.add_download(std::move(*prepared));
    EXPECT_EQ(write_piece(s, id, 1, {piece(file, 1).begin(), piece(file, 1).end()}),
              chunk_write::written);
  }
  fs::rename(partial, dir.path / "aside");
  store s(dir.path / "data");
  ASSERT_TRUE(s.load());
  EXPECT_EQ(s.find(id), nullptr);
  EXPECT_FALSE(s.find_bt(t.hashes.wire_id()));
  const auto u = s.unavailable().find(id);
  ASSERT_NE(u, s.unavailable().end());
  EXPECT_EQ(u->second.first.torrent, bt::torrent_format::v2);
  // Still in the catalog, as a torrent download.
  const auto catalog = nlohmann::json::parse(read_file(dir.path / "data" / "catalog.json"));
  ASSERT_EQ(catalog.size(), 1u);
  EXPECT_EQ(catalog[0].at("torrent"), "v2");

  fs::rename(dir.path / "aside", partial);
  auto resumed = s.prepare_torrent_download(t, target, u->second.first);
  ASSERT_TRUE(resumed) << resumed.error_message();
  EXPECT_EQ(resumed->have.count(), 1u);
  EXPECT_TRUE(resumed->have.has(1));
  s.add_download(std::move(*resumed));
  EXPECT_TRUE(s.unavailable().empty());
  EXPECT_TRUE(s.find_bt(t.hashes.wire_id()));
}

// An unaligned v1 torrent of a.bin (10000 bytes) and d/b.bin (30000): piece
// 0 spans both files. Each file is a partial file until every piece touching
// it is verified, then renamed into place.
TEST(StoreTorrent, AMultiFileTorrentIsATreeOfPartialFilesPlacedOneByOne) {
  temp_dir dir;
  const auto whole = file_bytes(40'000);
  constexpr std::uint32_t piece = 16'384;
  auto entry = [](std::string_view dir_name, std::string name, std::int64_t length) {
    auto e = bt::bvalue::make_dict();
    e.set("length", length);
    bt::bvalue::list path;
    if (!dir_name.empty()) path.emplace_back(std::string(dir_name));
    path.emplace_back(std::move(name));
    e.set("path", std::move(path));
    return e;
  };
  std::string pieces;
  for (std::size_t at = 0; at < whole.size(); at += piece) {
    const auto d =
        bt::sha1(std::span(whole).subspan(at, std::min<std::size_t>(piece, whole.size() - at)));
    pieces.append(d.begin(), d.end());
  }
  auto info = bt::bvalue::make_dict();
  info.set("name", "course");
  info.set("piece length", piece);
  info.set("files", bt::bvalue::list{entry("", "a.bin", 10'000), entry("d", "b.bin", 30'000)});
  info.set("pieces", pieces);
  auto root = bt::bvalue::make_dict();
  root.set("info", std::move(info));
  const auto t = bt::parse_torrent(bt::bencode(root));
  ASSERT_TRUE(t) << t.error_message();
  const auto tree_root = dir.path / "out" / "course";

  store s(dir.path / "data");
  ASSERT_TRUE(s.load());
  auto prepared = s.prepare_torrent_download(*t, tree_root, std::nullopt);
  ASSERT_TRUE(prepared) << prepared.error_message();
  ASSERT_TRUE(prepared->tree);
  EXPECT_FALSE(prepared->partial);
  EXPECT_EQ(prepared->manifest.chunk_count(), 3u);
  EXPECT_EQ(fs::file_size(tree_root / "a.bin.peerlab-partial"), 10'000u);
  EXPECT_EQ(fs::file_size(tree_root / "d" / "b.bin.peerlab-partial"), 30'000u);
  const auto id = prepared->id;
  s.add_download(std::move(*prepared));

  asio::io_context io;
  disk_io disk;
  const auto write = [&](std::size_t i) {
    const auto* item = s.find(id);
    const auto offset = item->manifest.chunk_offset(i);
    const std::vector<std::uint8_t> data(
        whole.begin() + static_cast<std::ptrdiff_t>(offset),
        whole.begin() + static_cast<std::ptrdiff_t>(offset + item->manifest.chunk_length(i)));
    auto outcome = chunk_write::failed;
    auto run = [&]() -> asio::awaitable<void> {
      auto writing = disk.write_piece(item->tree, item->chunk_map, offset,
                                      static_cast<std::uint32_t>(i), data, item->check(i));
      outcome = (co_await std::move(writing)).first;
    };
    asio::co_spawn(io, run(), asio::detached);
    io.restart();
    io.run();
    if (outcome == chunk_write::written) s.mark_chunk(id, i);
    return outcome;
  };
  const auto place = [&](std::vector<std::size_t> which) {
    bool ok = false;
    auto run = [&]() -> asio::awaitable<void> {
      auto placing = disk.place_files(s.find(id)->tree, which);
      ok = (co_await std::move(placing)).ok();
    };
    asio::co_spawn(io, run(), asio::detached);
    io.restart();
    io.run();
    return ok;
  };
  EXPECT_EQ(write(0), chunk_write::written);
  const auto* item = s.find(id);
  // a.bin lies in piece 0 only: ready; d/b.bin needs pieces 0-2.
  EXPECT_EQ(files_ready(*item->tree, item->have, item->placed), std::vector<std::size_t>{0});
  ASSERT_TRUE(place({0}));
  s.mark_placed(id, 0);
  EXPECT_EQ(read_file(tree_root / "a.bin"),
            std::vector<std::uint8_t>(whole.begin(), whole.begin() + 10'000));
  EXPECT_FALSE(fs::exists(tree_root / "a.bin.peerlab-partial"));
  EXPECT_EQ(write(2), chunk_write::written);
  EXPECT_TRUE(files_ready(*item->tree, item->have, item->placed).empty());
  EXPECT_EQ(write(1), chunk_write::written);
  EXPECT_EQ(files_ready(*item->tree, item->have, item->placed), std::vector<std::size_t>{1});
  // Asked only about the files that piece 1 touches: the same answer.
  EXPECT_EQ(files_ready(*item->tree, item->have, item->placed, {1}), std::vector<std::size_t>{1});
  EXPECT_TRUE(files_ready(*item->tree, item->have, {true, true}, {0, 1, 2}).empty());
  ASSERT_TRUE(place({1}));
  EXPECT_EQ(read_file(tree_root / "d" / "b.bin"),
            std::vector<std::uint8_t>(whole.begin() + 10'000, whole.end()));

  // Reloaded: the chunk map says all three pieces, and both files are in place.
  store again(dir.path / "data");
  ASSERT_TRUE(again.load());
  const auto* back = again.find(id);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->tree);
  EXPECT_EQ(back->have.count(), 3u);
  EXPECT_EQ(back->placed, (std::vector<bool>{true, true}));
}

TEST(StoreTorrent, AMultiFileTorrentsTreeNeverFollowsALinkWhereADirectoryGoes) {
  temp_dir dir;
  auto entry = [](std::string name) {
    auto e = bt::bvalue::make_dict();
    e.set("length", 10'000);
    e.set("path", bt::bvalue::list{bt::bvalue("sub"), bt::bvalue(std::move(name))});
    return e;
  };
  auto info = bt::bvalue::make_dict();
  info.set("name", "course");
  info.set("piece length", 16'384);
  info.set("files", bt::bvalue::list{entry("a.bin"), entry("b.bin")});
  info.set("pieces", std::string(40, 'x'));
  auto root = bt::bvalue::make_dict();
  root.set("info", std::move(info));
  const auto t = bt::parse_torrent(bt::bencode(root));
  ASSERT_TRUE(t);
  fs::create_directories(dir.path / "out" / "course");
  fs::create_directories(dir.path / "elsewhere");
  fs::create_directory_symlink(dir.path / "elsewhere", dir.path / "out" / "course" / "sub");
  store s(dir.path / "data");
  ASSERT_TRUE(s.load());
  const auto prepared = s.prepare_torrent_download(*t, dir.path / "out" / "course", std::nullopt);
  ASSERT_FALSE(prepared);
  EXPECT_NE(prepared.error_message().find("symbolic link"), std::string::npos)
      << prepared.error_message();
  EXPECT_TRUE(fs::is_empty(dir.path / "elsewhere"));
}

}  // namespace
}  // namespace peerlab::peer

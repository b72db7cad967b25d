// The file pool of multi-file torrents: a tree of many files never holds
// more descriptors open than the pool's bound.

#include "peer/file_pool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "peer/torrent_tree.hpp"

namespace peerlab::peer {
namespace {

namespace bt = protocol::bt;
namespace fs = std::filesystem;

TEST(FilePool, ATreeOfManyFilesKeepsAtMostItsBoundOpen) {
  const auto dir = fs::temp_directory_path() / ("peerlab-file-pool-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data" / "downloads");
  auto layout = std::make_shared<bt::file_layout>();
  layout->piece_length = 16'384;
  for (int i = 0; i < 20; ++i) {
    bt::layout_file f;
    f.path = "d/f" + std::to_string(i);
    f.offset = layout->total_bytes;
    f.length = 100;
    layout->files.push_back(f);
    layout->total_bytes += f.length;
  }
  auto tree = make_torrent_tree({}, dir / "out", dir / "data", layout, {});
  ASSERT_TRUE(tree) << tree.error_message();
  ASSERT_TRUE(prepare_tree(**tree, chunk_set(1)));
  file_pool pool(3);
  std::vector<std::shared_ptr<file_handle>> kept;
  for (std::size_t i = 0; i < 20; ++i) {
    auto h = pool.open(**tree, i);
    ASSERT_TRUE(h) << h.error_message();
    if (i == 0) kept.push_back(*h);  // a user still holding one keeps it valid
    EXPECT_LE(pool.open_count(), 3u);
  }
  EXPECT_GE(kept.front()->fd(), 0);
  // Opened again after it was let go: the same file.
  auto again = pool.open(**tree, 0);
  ASSERT_TRUE(again);
  EXPECT_LE(pool.open_count(), 3u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace peerlab::peer

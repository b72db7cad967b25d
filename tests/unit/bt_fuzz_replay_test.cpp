// The BitTorrent fuzz targets (fuzz/bencode_fuzz.cpp, torrent, bt_wire,
// bt_extension, bt_pex, tracker) replayed over their seed corpora and findings, as
// fuzz_replay_test.cpp does for the others: a parser regression fails ctest.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"

namespace peerlab::fuzz {
namespace {

namespace fs = std::filesystem;

std::size_t replay_bt(const std::string& name, int (*target)(const std::uint8_t*, std::size_t)) {
  std::size_t inputs = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(PEERLAB_FUZZ_DIR) / kind / name;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
      const auto path = entry.path().string();
      current_input = path.c_str();
      EXPECT_EQ(target(bytes.data(), bytes.size()), 0) << path;
      current_input = nullptr;
      ++inputs;
    }
  }
  return inputs;
}

TEST(FuzzReplay, BencodeDecoder) {
  EXPECT_GT(replay_bt("bencode", fuzz_bencode), 0u);
}
TEST(FuzzReplay, TorrentAndMagnetParsers) {
  EXPECT_GT(replay_bt("torrent", fuzz_torrent), 0u);
}
TEST(FuzzReplay, BitTorrentWireDecoder) {
  EXPECT_GT(replay_bt("bt_wire", fuzz_bt_wire), 0u);
}
TEST(FuzzReplay, BitTorrentExtensionDicts) {
  EXPECT_GT(replay_bt("bt_extension", fuzz_bt_extension), 0u);
}
TEST(FuzzReplay, BitTorrentPeerExchange) {
  EXPECT_GT(replay_bt("bt_pex", fuzz_bt_pex), 0u);
}
TEST(FuzzReplay, BitTorrentHashesOnDisk) {
  EXPECT_GT(replay_bt("bt_hashes", fuzz_bt_hashes), 0u);
}
TEST(FuzzReplay, TrackerMessages) {
  EXPECT_GT(replay_bt("tracker", fuzz_tracker), 0u);
}

}  // namespace
}  // namespace peerlab::fuzz

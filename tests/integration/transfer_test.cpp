// Files move between nodes in one process: swarming, verification against
// the manifest, bans for bad data, and resuming from the persisted chunk map.

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>

#include "files.hpp"
#include "harness.hpp"

namespace peerlab::testing {
namespace {

namespace fs = std::filesystem;

std::optional<peer::transfer_info> transfer(harness& h, peer::node& n,
                                            const protocol::content_id& id) {
  return h.run([&] { return n.transfers().transfer(id); });
}

// For conditions, which already run on the network thread.
bool complete(peer::node& n, const protocol::content_id& id) {
  const auto t = n.transfers().transfer(id);
  return t && t->state == "complete";
}

// Waits until a downloader's peers have announced the content, then gets it.
void get(harness& h, peer::node& n, const protocol::content_id& id, const fs::path& output) {
  ASSERT_TRUE(
      h.wait_until([&] { return n.transfers().resolve(protocol::to_hex(id)).has_value(); }));
  const auto started =
      h.run([&] { return n.transfers().get(protocol::to_hex(id), output, {}).ok(); });
  ASSERT_TRUE(started);
}

TEST(Transfer, DownloadersGetTheExactBytesAndTradeChunksWithEachOther) {
  harness h;
  auto seeder_settings = h.settings("seeder");
  seeder_settings.up_limit_bytes_per_second = 4 * 1024 * 1024;  // the seeder is the bottleneck
  auto& seeder = h.add_node(seeder_settings);
  auto& b = h.add_node(h.settings("b", {seeder.listen_endpoint()}));
  auto& c = h.add_node(h.settings("c", {seeder.listen_endpoint()}));
  ASSERT_TRUE(
      h.wait_until([&] { return b.connections().size() == 2 && c.connections().size() == 2; }));

  const auto data = random_bytes(6 * 1024 * 1024 + 12345, 1);  // a short last chunk
  const auto source = write_file(h.temp_dir("source"), "data.bin", data);
  const auto id = share(h, seeder, source);
  const auto out = h.temp_dir("out");
  get(h, b, id, out / "b.bin");
  get(h, c, id, out / "c.bin");
  ASSERT_TRUE(h.wait_until([&] { return complete(b, id) && complete(c, id); }, 30s));

  EXPECT_EQ(read_file(out / "b.bin"), data);
  EXPECT_EQ(read_file(out / "c.bin"), data);
  EXPECT_FALSE(fs::exists(out / "b.bin.peerlab-partial"));
  // With the seeder limited, each downloader got chunks from the other too.
  for (auto* n : {&b, &c}) {
    const auto t = *transfer(h, *n, id);
    EXPECT_EQ(t.chunks_fetched, t.chunks_total);
    EXPECT_GE(t.sources.size(), 2u) << "chunks came from one peer only";
  }
}

TEST(Transfer, CorruptChunksAreNeverWrittenAndTheirSenderIsBanned) {
  harness h;
  const auto data = random_bytes(4 * 1024 * 1024, 2);
  auto& honest = h.add_node(h.settings("honest"));
  auto liar_settings = h.settings("liar");
  liar_settings.swarm.corrupt_uploads = true;
  auto& liar = h.add_node(liar_settings);
  const auto id = share(h, honest, write_file(h.temp_dir("h"), "f.bin", data));
  ASSERT_EQ(share(h, liar, write_file(h.temp_dir("l"), "f.bin", data)), id);

  auto& d = h.add_node(h.settings("d", {honest.listen_endpoint(), liar.listen_endpoint()}));
  ASSERT_TRUE(h.wait_until([&] { return d.connections().size() == 2; }));
  const auto out = h.temp_dir("out") / "f.bin";
  get(h, d, id, out);
  ASSERT_TRUE(h.wait_until([&] { return complete(d, id); }, 30s));

  EXPECT_EQ(read_file(out), data);
  EXPECT_GE(transfer(h, d, id)->chunks_rejected, 1u);
  const auto peers = h.peer_ids(d);
  EXPECT_EQ(std::count(peers.begin(), peers.end(), hex_id(liar)), 0)
      << "the liar is still connected";
  EXPECT_TRUE(h.run([&] { return d.transfers().is_banned(liar.id()); }));
}

TEST(Transfer, RestartedDownloaderKeepsEveryVerifiedChunk) {
  harness h;
  auto seeder_settings = h.settings("seeder");
  seeder_settings.up_limit_bytes_per_second = 2 * 1024 * 1024;
  auto& seeder = h.add_node(seeder_settings);
  const auto data = random_bytes(4 * 1024 * 1024, 3);
  const auto id = share(h, seeder, write_file(h.temp_dir("s"), "r.bin", data));

  auto first_settings = h.settings("d", {seeder.listen_endpoint()});
  const auto dir = first_settings.data_dir;
  auto& first = h.add_node(first_settings);
  const auto out = h.temp_dir("out") / "r.bin";
  get(h, first, id, out);
  ASSERT_TRUE(h.wait_until([&] { return first.transfers().transfer(id)->chunks_done >= 4; }, 30s));
  h.run([&] {
    first.stop();
    return 0;
  });
  const auto done_before = transfer(h, first, id)->chunks_done;
  ASSERT_FALSE(fs::exists(out)) << "an unfinished download must not have its final name";

  // A new node on the same data directory resumes from the chunk map on disk.
  auto again_settings = h.settings("d-again", {seeder.listen_endpoint()});
  again_settings.data_dir = dir;
  auto& again = h.add_node(again_settings);
  ASSERT_TRUE(h.wait_until([&] { return complete(again, id); }, 30s));
  const auto t = *transfer(h, again, id);
  EXPECT_GE(t.chunks_resumed, done_before);
  EXPECT_EQ(t.chunks_fetched, t.chunks_total - t.chunks_resumed);
  EXPECT_EQ(read_file(out), data);
}

TEST(Transfer, SharedFileChangedOnDiskIsNoLongerOffered) {
  harness h;
  auto s = h.settings("sharer");
  s.swarm.file_check_interval = 200ms;
  auto& sharer = h.add_node(s);
  const auto file = write_file(h.temp_dir("f"), "notes.txt", random_bytes(1000, 4));
  const auto id = share(h, sharer, file);
  EXPECT_EQ(h.run([&] { return sharer.transfers().files().size(); }), 1u);
  std::ofstream(file, std::ios::app) << "an edit after sharing";
  EXPECT_TRUE(h.wait_until([&] { return sharer.transfers().files().empty(); }));
  EXPECT_TRUE(h.run([&] { return sharer.transfers().matches(protocol::to_hex(id)).empty(); }));
}

}  // namespace
}  // namespace peerlab::testing

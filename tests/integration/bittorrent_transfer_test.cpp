// A torrent moves between two nodes in one process over BitTorrent: one node
// shares a file (and so seeds its v1, v2 and hybrid torrents), the other
// gets the .torrent. No tracker: the downloader dials its peerlab peers over
// BitTorrent on the same port (docs/bittorrent.md §10), so this runs the
// whole leeching path: handshake, have, interested, unchoke, block requests,
// piece checks (SHA-1, v2 merkle roots), writing, completion.

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>
#include <fstream>

#include "files.hpp"
#include "harness.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::testing {
namespace {

namespace fs = std::filesystem;
namespace bt = protocol::bt;

// The .torrent of a file `n` shares, once its BitTorrent hashes are ready.
fs::path write_torrent(harness& h, peer::node& n, const protocol::content_id& id,
                       bt::torrent_format format, const fs::path& dir) {
  std::shared_ptr<const peer::bt_info> info;
  EXPECT_TRUE(h.wait_until([&] {
    const auto* item = n.transfers().storage().items().count(id)
                           ? &n.transfers().storage().items().at(id)
                           : nullptr;
    if (item && item->bt) info = item->bt;
    return info != nullptr;
  }));
  if (!info) return {};
  auto built = info->torrent(format, "");
  EXPECT_TRUE(built) << built.error_message();
  const auto path = dir / (std::string(bt::to_string(format)) + ".torrent");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(built->bytes.data()),
             static_cast<std::streamsize>(built->bytes.size()));
  return path;
}

protocol::result<protocol::content_id> get_torrent(harness& h, peer::node& n,
                                                   const fs::path& torrent, const fs::path& out) {
  // (Wrapped: asio's use_future needs a default-constructible result.)
  auto done = asio::co_spawn(
      h.io(),
      [&]() -> asio::awaitable<std::optional<protocol::result<protocol::content_id>>> {
        co_return co_await n.transfers().get_torrent(torrent, out, {});
      },
      asio::use_future);
  return *done.get();
}

TEST(BitTorrentTransfer, EachFormatDownloadsFromAPeerlabSeederOverBitTorrent) {
  harness h;
  auto& seeder = h.add_node(h.settings("seeder"));
  auto& leecher = h.add_node(h.settings("leecher", {seeder.listen_endpoint()}));
  ASSERT_TRUE(h.wait_until([&] { return leecher.connections().size() == 1; }));

  const auto data = random_bytes(3 * 256 * 1024 + 4321, 7);  // a short last piece
  const auto source = write_file(h.temp_dir("source"), "data.bin", data);
  const auto shared = share(h, seeder, source);
  const auto dir = h.temp_dir("torrents");
  const auto out = h.temp_dir("out");
  for (const auto format :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    SCOPED_TRACE(std::string(bt::to_string(format)));
    const auto torrent = write_torrent(h, seeder, shared, format, dir);
    ASSERT_FALSE(torrent.empty());
    const auto target = out / (std::string(bt::to_string(format)) + ".bin");
    const auto id = get_torrent(h, leecher, torrent, target);
    ASSERT_TRUE(id) << id.error_message();
    ASSERT_TRUE(h.wait_until(
        [&] {
          const auto t = leecher.transfers().transfer(*id);
          return t && t->state == "complete";
        },
        30s));
    EXPECT_EQ(read_file(target), data);
    const auto t = *h.run([&] { return leecher.transfers().transfer(*id); });
    EXPECT_EQ(t.protocol, "bittorrent");
    EXPECT_EQ(t.chunks_fetched, t.chunks_total);
    ASSERT_EQ(t.sources.size(), 1u);
    EXPECT_TRUE(t.sources.begin()->first.starts_with("bt ")) << t.sources.begin()->first;
  }
}

// Whether `n` has a BitTorrent connection to where `other` listens, or
// `other` one to `n`.
bool bt_connected(peer::node& n, peer::node& other) {
  const auto to = [](peer::node& from, peer::node& at) {
    const auto peers = from.transfers().bittorrent().peers();
    return std::any_of(peers.begin(), peers.end(), [&](const peer::bt_peer_info& p) {
      return p.conn->remote() == at.listen_endpoint();
    });
  };
  return to(n, other) || to(other, n);
}

TEST(BitTorrentTransfer, PeersLearnOfEachOtherByPeerExchange) {
  // Three nodes that know nothing of each other (no --peer, no tracker):
  // both leechers are handed the seeder's address only, and the seeder's
  // ut_pex tells each of them of the other.
  harness h;
  auto fast_pex = [&](const std::string& name) {
    auto s = h.settings(name);
    s.swarm.bittorrent.pex_every = 100ms;
    return s;
  };
  auto& seeder = h.add_node(fast_pex("seeder"));
  auto& a = h.add_node(fast_pex("a"));
  auto& b = h.add_node(fast_pex("b"));
  const auto data = random_bytes(2 * 256 * 1024, 9);
  const auto shared = share(h, seeder, write_file(h.temp_dir("source"), "data.bin", data));
  const auto torrent =
      write_torrent(h, seeder, shared, bt::torrent_format::v1, h.temp_dir("torrents"));
  ASSERT_FALSE(torrent.empty());
  const auto wire_id = h.run(
      [&] { return seeder.transfers().storage().items().at(shared).bt->v1.hashes.wire_id(); });
  const auto out = h.temp_dir("out");
  for (auto* n : {&a, &b}) {
    const auto id = get_torrent(h, *n, torrent, out / (n == &a ? "a.bin" : "b.bin"));
    ASSERT_TRUE(id);
    ASSERT_TRUE(h.wait_until([&] {  // its partial file made: it takes BitTorrent peers now
      const auto t = n->transfers().transfer(*id);
      return t && t->state != "manifest";
    }));
    h.run([&] { n->transfers().bittorrent().add_candidates(wire_id, {seeder.listen_endpoint()}); });
  }
  EXPECT_TRUE(h.wait_until([&] { return bt_connected(a, b); }, 10s))
      << "neither leecher dialed the other: the seeder's ut_pex did not reach them";
}

TEST(BitTorrentTransfer, ATorrentThatIsNotOneIsRefusedWithItsReason) {
  harness h;
  auto& n = h.add_node(h.settings("n"));
  const auto dir = h.temp_dir("bad");
  const auto bad = dir / "bad.torrent";
  std::ofstream(bad) << "d4:infod4:name1:xee";
  const auto id = get_torrent(h, n, bad, dir / "x");
  ASSERT_FALSE(id);
  EXPECT_NE(id.error_message().find("not a valid .torrent"), std::string::npos)
      << id.error_message();
  const auto missing = get_torrent(h, n, dir / "absent.torrent", dir / "x");
  EXPECT_FALSE(missing);
}

}  // namespace
}  // namespace peerlab::testing

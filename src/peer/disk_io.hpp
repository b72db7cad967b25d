#pragma once
// The disk-I/O layer: every read, write, fsync and rename the swarm needs,
// run off the network thread and resumed on it (libtorrent's disk_interface
// in miniature). Five lanes, so that one kind of work never starves another:
// - chunks: verify-and-write of received chunks;
// - uploads: opening chunks to upload (never queued behind a busy download);
// - files: creating partial files, fsync + rename of finished downloads, and
//   the data directory's catalog and manifests, in the order they were asked;
// - hashing: `share`, which may hash a big file for seconds;
// - placing: a folder's files, made and flushed into place many at once (so
//   their fsyncs overlap in one journal commit instead of queueing).
// Called from the network thread only; results come back there.

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peer/chunk_check.hpp"
#include "peer/file_pool.hpp"
#include "peer/store.hpp"

namespace peerlab::peer {

enum class chunk_write { written, corrupt, failed };

class disk_io {
 public:
  enum class lane { chunks, uploads, files, hashing, placing };

  disk_io() = default;
  ~disk_io();  // waits for work in progress (a catalog being saved, say)
  disk_io(const disk_io&) = delete;
  disk_io& operator=(const disk_io&) = delete;

  // Runs f() on a lane and resumes the caller on its own executor.
  // (GCC 12 may destroy temporaries inside a co_await twice, so callers pass
  // named function objects, and the task below is a named local.)
  template <class F>
  auto run(lane l, F& f) -> asio::awaitable<decltype(f())> {
    using R = decltype(f());
    auto task = [&f]() -> asio::awaitable<std::optional<R>> { co_return f(); };
    auto r = co_await asio::co_spawn(pool(l), task, asio::use_awaitable);
    co_return std::move(*r);
  }

  // Checks a received chunk against `check` (content::check(index)); only if
  // it matches, writes it at `offset` of the partial file and sets its byte
  // in the chunk map.
  // `data` is read on the lane: it must outlive the co_await (a local of the caller).
  asio::awaitable<std::pair<chunk_write, std::string>> write_chunk(
      std::shared_ptr<file_handle> partial, std::shared_ptr<file_handle> chunk_map,
      std::uint64_t offset, std::uint32_t index, const std::vector<std::uint8_t>& data,
      chunk_check check);
  // The same for a peerlab chunk checked against its manifest's SHA-256.
  asio::awaitable<std::pair<chunk_write, std::string>> write_chunk(
      std::shared_ptr<file_handle> partial, std::shared_ptr<file_handle> chunk_map,
      std::uint64_t offset, std::uint32_t index, const std::vector<std::uint8_t>& data,
      protocol::sha256_digest expected);

  // Opens a chunk to upload (a shared file is checked to be unchanged since
  // `stamp`; a partial one is open already) and brings it into the page
  // cache, so that sending it from the network thread never waits on disk.
  asio::awaitable<result<std::shared_ptr<file_handle>>> open_chunk(
      fs::path path, file_stamp stamp, std::shared_ptr<file_handle> partial, std::uint64_t offset,
      std::uint64_t length);

  // A multi-file torrent's piece (at `offset` of its piece space): checked,
  // and only if it matches, written to the files it covers (through the file
  // pool) and marked in the chunk map.
  asio::awaitable<std::pair<chunk_write, std::string>> write_piece(
      std::shared_ptr<const torrent_tree> tree, std::shared_ptr<file_handle> chunk_map,
      std::uint64_t offset, std::uint32_t index, const std::vector<std::uint8_t>& data,
      chunk_check check);
  // Where a multi-file torrent's piece is, as parts of its files (pads:
  // zeros), in the page cache: what a BitTorrent peer is sent.
  asio::awaitable<result<std::vector<file_part>>> open_parts(
      std::shared_ptr<const torrent_tree> tree, std::uint64_t offset, std::uint64_t length);
  // A multi-file torrent's files, each flushed and renamed into place.
  asio::awaitable<result<std::monostate>> place_files(std::shared_ptr<const torrent_tree> tree,
                                                      std::vector<std::size_t> which);
  // Closes the files the pool holds of a torrent.
  void forget_files(const protocol::content_id& id) { pool_.forget(id); }

  // A finished download: flushed to disk, renamed into place; its new stamp.
  asio::awaitable<result<file_stamp>> finish_download(std::shared_ptr<file_handle> partial,
                                                      fs::path from, fs::path to,
                                                      lane l = lane::files);

  // Writes a file atomically on the files lane, after everything asked
  // before it; nobody waits (the destructor does, at shutdown).
  void write_file_later(fs::path path, std::string contents);
  void remove_file_later(fs::path path);
  // Completes once every write asked for before it is on disk.
  asio::awaitable<void> flush();

 private:
  asio::thread_pool& pool(lane l);
  static constexpr std::size_t writeback_step_bytes = 32 * 1024 * 1024;
  void start_writeback(const std::shared_ptr<file_handle>& file, std::size_t written);

  file_pool pool_{64};  // multi-file torrents' open files, for every lane
  asio::thread_pool chunks_{2};
  asio::thread_pool uploads_{1};
  asio::thread_pool files_{1};  // one thread: writes land in the order asked
  asio::thread_pool hashing_{1};
  // Started at the first folder download: 32 idle threads would add ~3 MiB
  // to every node's footprint.
  std::optional<asio::thread_pool> placing_;
};

}  // namespace peerlab::peer

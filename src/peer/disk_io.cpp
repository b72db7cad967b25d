#include "peer/disk_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "peer/data_dir.hpp"
#include "peer/log.hpp"

namespace peerlab::peer {

disk_io::~disk_io() {
  chunks_.join();
  uploads_.join();
  hashing_.join();
  if (placing_) placing_->join();
  files_.join();  // last: the others may have queued a save
}

asio::thread_pool& disk_io::pool(lane l) {
  switch (l) {
    case lane::chunks:
      return chunks_;
    case lane::uploads:
      return uploads_;
    case lane::files:
      return files_;
    case lane::placing:
      if (!placing_) placing_.emplace(32);
      return *placing_;
    case lane::hashing:
      break;
  }
  return hashing_;
}

asio::awaitable<std::pair<chunk_write, std::string>> disk_io::write_chunk(
    std::shared_ptr<file_handle> partial, std::shared_ptr<file_handle> chunk_map,
    std::uint64_t offset, std::uint32_t index, const std::vector<std::uint8_t>& data,
    chunk_check check) {
  // Verify, then write: nothing unverified ever reaches the disk.
  auto verify_and_write = [&]() -> std::pair<chunk_write, std::string> {
    if (!matches(check, data)) return {chunk_write::corrupt, ""};
    if (auto written = store::write_at(*partial, offset, data); !written)
      return {chunk_write::failed, written.error_message()};
    start_writeback(partial, data.size());
    // The data is in the partial file; this byte makes it count on resume.
    // (A folder's file has no chunk map: its partial file is verified again.)
    const std::uint8_t one = 1;
    if (!chunk_map) return {chunk_write::written, ""};
    if (auto marked = store::write_at(*chunk_map, index, {&one, 1}); !marked)
      return {chunk_write::failed, marked.error_message()};
    return {chunk_write::written, ""};
  };
  co_return co_await run(lane::chunks, verify_and_write);
}

asio::awaitable<std::pair<chunk_write, std::string>> disk_io::write_chunk(
    std::shared_ptr<file_handle> partial, std::shared_ptr<file_handle> chunk_map,
    std::uint64_t offset, std::uint32_t index, const std::vector<std::uint8_t>& data,
    protocol::sha256_digest expected) {
  // Not a coroutine: the awaitable it returns holds copies of the handles.
  return write_chunk(std::move(partial), std::move(chunk_map), offset, index, data,
                     chunk_check::sha256(expected));
}

// With gigabytes of RAM the kernel keeps a whole download dirty in the page
// cache, and the fsync before the rename then writes all of it while the
// user waits (1.2 s per GiB here, a third of a loopback get). So every
// writeback_step_bytes the file's dirty pages are handed to writeback
// (SYNC_FILE_RANGE_WRITE: started, not waited for), on the files lane, off
// the threads that verify. Errors are the fsync's to report.
void disk_io::start_writeback(const std::shared_ptr<file_handle>& file, std::size_t written) {
  if (file->unflushed_bytes.fetch_add(written) + written < writeback_step_bytes) return;
  file->unflushed_bytes = 0;
  asio::post(files_, [file] { ::sync_file_range(file->fd(), 0, 0, SYNC_FILE_RANGE_WRITE); });
}

asio::awaitable<result<std::shared_ptr<file_handle>>> disk_io::open_chunk(
    fs::path path, file_stamp stamp, std::shared_ptr<file_handle> partial, std::uint64_t offset,
    std::uint64_t length) {
  auto open = [&]() -> result<std::shared_ptr<file_handle>> {
    auto file =
        partial ? result<std::shared_ptr<file_handle>>{partial} : store::open_shared(path, stamp);
    if (file) store::prefetch(**file, offset, length);
    return file;
  };
  co_return co_await run(lane::uploads, open);
}

asio::awaitable<std::pair<chunk_write, std::string>> disk_io::write_piece(
    std::shared_ptr<const torrent_tree> tree, std::shared_ptr<file_handle> chunk_map,
    std::uint64_t offset, std::uint32_t index, const std::vector<std::uint8_t>& data,
    chunk_check check) {
  auto verify_and_write = [&]() -> std::pair<chunk_write, std::string> {
    if (!matches(check, data)) return {chunk_write::corrupt, ""};
    if (auto written = peer::write_piece(pool_, *tree, offset, data); !written)
      return {chunk_write::failed, written.error_message()};
    const std::uint8_t one = 1;
    if (auto marked = store::write_at(*chunk_map, index, {&one, 1}); !marked)
      return {chunk_write::failed, marked.error_message()};
    return {chunk_write::written, ""};
  };
  co_return co_await run(lane::chunks, verify_and_write);
}

asio::awaitable<result<std::vector<file_part>>> disk_io::open_parts(
    std::shared_ptr<const torrent_tree> tree, std::uint64_t offset, std::uint64_t length) {
  auto open = [&] { return peer::open_parts(pool_, *tree, offset, length); };
  co_return co_await run(lane::uploads, open);
}

asio::awaitable<result<std::monostate>> disk_io::place_files(
    std::shared_ptr<const torrent_tree> tree, std::vector<std::size_t> which) {
  auto place = [&] { return peer::place_files(pool_, *tree, which); };
  co_return co_await run(lane::files, place);
}

asio::awaitable<result<file_stamp>> disk_io::finish_download(std::shared_ptr<file_handle> partial,
                                                             fs::path from, fs::path to, lane l) {
  auto finish = [&]() -> result<file_stamp> {
    if (::fsync(partial->fd()) != 0)
      return error{std::string("cannot flush the download: ") + std::strerror(errno)};
    std::error_code ec;
    fs::rename(from, to, ec);
    if (ec)
      return error{"cannot rename the finished download to " + to.string() + ": " + ec.message()};
    return store::stamp_of(to);
  };
  co_return co_await run(l, finish);
}

void disk_io::write_file_later(fs::path path, std::string contents) {
  asio::post(files_, [path = std::move(path), contents = std::move(contents)] {
    if (auto written = write_file_atomically(path, contents, 0644); !written)
      log_line(log_level::error) << written.error_message();
  });
}

asio::awaitable<void> disk_io::flush() {
  auto nothing = [] { return 0; };  // the files lane runs in order: all before it is done
  co_await run(lane::files, nothing);
}

void disk_io::remove_file_later(fs::path path) {
  asio::post(files_, [path = std::move(path)] {
    std::error_code ignored;
    fs::remove(path, ignored);
  });
}

}  // namespace peerlab::peer

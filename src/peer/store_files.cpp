// The store's file operations that keep no state: a file's stamp, hashing
// a file to share, opening a shared file only while it is unchanged, and
// reads and writes at an offset. Part of class store (store.hpp); they run
// on the disk layer's threads.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "peer/file_hasher.hpp"
#include "peer/store.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

file_stamp stamp_from(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

}  // namespace

result<file_stamp> store::stamp_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return error{file.string() + ": " + errno_text()};
  if (!S_ISREG(st.st_mode)) return error{file.string() + " is not a regular file"};
  return stamp_from(st);
}

result<hashed_file> store::hash_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error{"cannot read " + file.string() + ": " + errno_text()};
  const file_handle handle(fd);
  struct stat before {};
  if (::fstat(fd, &before) != 0 || !S_ISREG(before.st_mode)) {
    return error{file.string() + " is not a regular file"};
  }
  const auto size = static_cast<std::uint64_t>(before.st_size);
  if (size > protocol::max_file_bytes) return error{file.string() + " is larger than 128 GiB"};

  hashed_file out;
  auto& m = out.manifest;
  m.name = file.filename().string();
  if (!protocol::is_safe_file_name(m.name)) {
    return error{"the file name '" + protocol::printable_name(m.name) + "' cannot be shared"};
  }
  m.size = size;
  m.chunk_size = protocol::chunk_size_for(size);
  // One pass: the chunks' SHA-256 and BitTorrent's hashes together.
  auto pass = hash_pass(fd, size, m.chunk_size, true);
  if (!pass) return error{"cannot read " + file.string() + ": " + pass.error_message()};
  m.chunk_hashes = std::move(pass->chunk_hashes);
  out.bt = std::move(pass->bt);
  struct stat after {};
  if (::fstat(fd, &after) != 0 || !(stamp_from(after) == stamp_from(before))) {
    return error{file.string() + " changed while it was being hashed"};
  }
  out.stamp = stamp_from(before);
  return out;
}

result<protocol::bt::file_hashes> store::hash_bt(const fs::path& file, const file_stamp& stamp,
                                                 const protocol::manifest& m) {
  auto handle = open_shared(file, stamp);
  if (!handle) return error{handle.error_message()};
  auto pass = hash_pass((*handle)->fd(), m.size, m.chunk_size, false);
  if (!pass) return error{"cannot read " + file.string() + ": " + pass.error_message()};
  if (auto now = stamp_of(file); !now || !(*now == stamp))
    return error{file.string() + " changed while it was being hashed"};
  return std::move(pass->bt);
}

result<std::shared_ptr<file_handle>> store::open_shared(const fs::path& file,
                                                        const file_stamp& stamp) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error{"cannot read " + file.string() + ": " + errno_text()};
  auto handle = std::make_shared<file_handle>(fd);
  struct stat st {};
  // A file edited after sharing no longer matches its manifest: refuse.
  if (::fstat(fd, &st) != 0 || !(stamp_from(st) == stamp)) {
    return error{file.string() + " changed since it was shared"};
  }
  return handle;
}

result<std::vector<std::uint8_t>> store::read_at(const file_handle& file, std::uint64_t offset,
                                                 std::uint32_t length) {
  std::vector<std::uint8_t> data(length);
  if (!read_fully(file.fd(), data.data(), offset, length)) {
    return error{"short read at offset " + std::to_string(offset)};
  }
  return data;
}

void store::prefetch(const file_handle& file, std::uint64_t offset, std::uint64_t length) {
  // Best effort: if it fails, sendfile reads the disk itself.
  ::readahead(file.fd(), static_cast<off64_t>(offset), length);
}

result<std::monostate> store::write_at(const file_handle& file, std::uint64_t offset,
                                       std::span<const std::uint8_t> data) {
  const std::lock_guard one_writer(file.writing);
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::pwrite(file.fd(), data.data() + done, data.size() - done,
                            static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return error{"cannot write the download: " + errno_text()};
    done += static_cast<std::size_t>(n);
  }
  return std::monostate{};
}

}  // namespace peerlab::peer

#pragma once
// An open file descriptor, closed when the last user lets go: the pool may
// still be writing, or a socket still sending from it, when a download is
// cancelled or a file stops being shared.

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>

namespace peerlab::peer {

class file_handle {
 public:
  explicit file_handle(int fd) : fd_(fd) {}
  ~file_handle() {
    if (fd_ >= 0) ::close(fd_);
  }
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;
  int fd() const { return fd_; }

  // Bytes written since the file was last handed to writeback (a download's
  // partial file; disk_io::write_chunk). Written from several threads.
  std::atomic<std::uint64_t> unflushed_bytes{0};
  // Held while writing to the file (store::write_at). ext4 lets one
  // buffered write at a time into a file (the inode's lock), and a second
  // writer spins on that lock while the first copies: 9 % of the CPU of a
  // loopback get went to that spinning. Waiting here, it sleeps and leaves
  // the core to others.
  mutable std::mutex writing;

 private:
  int fd_;
};

// Bytes [offset, offset + length) of `file` — or, with no file, that many
// zeros (a torrent's pad): one piece of what a BitTorrent piece is sent from.
struct file_part {
  std::shared_ptr<const file_handle> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// pread until `length` bytes are in, or the file ends early.
inline bool read_fully(int fd, std::uint8_t* out, std::uint64_t offset, std::uint32_t length) {
  std::uint32_t done = 0;
  while (done < length) {
    const auto n = ::pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::uint32_t>(n);
  }
  return true;
}

}  // namespace peerlab::peer

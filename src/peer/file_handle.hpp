#pragma once
// An open file descriptor, closed when the last user lets go: the pool may
// still be writing, or a socket still sending from it, when a download is
// cancelled or a file stops being shared.

#include <unistd.h>

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

 private:
  int fd_;
};

}  // namespace peerlab::peer

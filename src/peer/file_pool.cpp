#include "peer/file_pool.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <limits>

#include "peer/private_files.hpp"

namespace peerlab::peer {

namespace {
constexpr std::size_t side_file = std::numeric_limits<std::size_t>::max();
}

protocol::result<std::shared_ptr<file_handle>> file_pool::open(const torrent_tree& t,
                                                               std::size_t i) {
  if (i >= t.layout->files.size() || t.layout->files[i].pad)
    return protocol::error{"no file to open for a pad"};
  const bool selected = t.selected[i];
  const key k{t.id, selected ? i : side_file};
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = open_.find(k); it != open_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.used);
      return it->second.handle;
    }
  }
  // Opened outside the lock: another lane may open it too; one copy is kept.
  protocol::result<int> fd = protocol::error{""};
  if (!selected) {
    fd = open_existing(t.side);
  } else {
    // Its partial file until it is renamed into place (rename is atomic:
    // if the partial file is gone, the file is there).
    const auto partial = t.partial_path(i);
    fd = open_existing(partial);
    struct stat st {};
    if (!fd && ::lstat(partial.c_str(), &st) != 0 && errno == ENOENT)
      fd = open_existing(t.final_path(i), false);
  }
  if (!fd) return protocol::error{fd.error_message()};
  auto handle = std::make_shared<file_handle>(*fd);
  const std::lock_guard lock(mutex_);
  if (const auto it = open_.find(k); it != open_.end()) return it->second.handle;
  lru_.push_front(k);
  open_.emplace(k, entry{handle, lru_.begin()});
  while (open_.size() > max_open_) {
    open_.erase(lru_.back());  // closed once its last user lets go
    lru_.pop_back();
  }
  return handle;
}

void file_pool::forget(const protocol::content_id& id) {
  const std::lock_guard lock(mutex_);
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->first.first != id) {
      ++it;
      continue;
    }
    lru_.erase(it->second.used);
    it = open_.erase(it);
  }
}

std::size_t file_pool::open_count() {
  const std::lock_guard lock(mutex_);
  return open_.size();
}

}  // namespace peerlab::peer

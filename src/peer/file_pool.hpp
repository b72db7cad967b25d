#pragma once
// The open files of multi-file torrents: a torrent may hold 100 000 files,
// so no descriptor is kept per file; the disk layer's lanes open them here,
// and at most `max_open` stay open (the least recently used is closed once
// the last user lets go of it). Thread-safe: every lane uses it.

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "peer/file_handle.hpp"
#include "peer/torrent_tree.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

class file_pool {
 public:
  explicit file_pool(std::size_t max_open = 64) : max_open_(max_open) {}

  // Blocking. File `i` of the tree: its partial file while it downloads,
  // the file in place once it is there (read-only then), or the tree's side
  // file for a file that was not selected (see torrent_tree).
  protocol::result<std::shared_ptr<file_handle>> open(const torrent_tree& t, std::size_t i);
  // Closes what the pool holds of a torrent (a download removed).
  void forget(const protocol::content_id& id);
  std::size_t open_count();

 private:
  using key = std::pair<protocol::content_id, std::size_t>;  // side file: index SIZE_MAX
  struct entry {
    std::shared_ptr<file_handle> handle;
    std::list<key>::iterator used;
  };

  std::mutex mutex_;
  std::size_t max_open_;
  std::list<key> lru_;  // most recent first
  std::map<key, entry> open_;
};

}  // namespace peerlab::peer

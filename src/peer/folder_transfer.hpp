#pragma once
// A folder this node holds or fetches: its record (folder_book) and, while it
// downloads, which of its files are waiting, under way and in place. Plain
// state: the swarm drives it (swarm_folders.cpp).

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "peer/folder_book.hpp"
#include "protocol/manifest.hpp"

namespace peerlab::peer {

struct folder_file_progress {
  std::string path;
  std::uint64_t size = 0;
  bool directory = false;
  std::string state;  // done | downloading | waiting | skipped (not selected by --only)
  std::uint64_t bytes_done = 0;
};

struct folder_transfer {
  enum class phase { starting, downloading, complete, failed };

  folder_record record;
  phase state = phase::starting;
  std::string error;
  std::vector<bool> selected;  // per entry: asked for (all, or what --only names)
  // Each file still to place, by content id: its entries (identical files
  // share one id, fetched once and copied).
  std::map<protocol::content_id, std::vector<std::size_t>> pending;
  std::deque<protocol::content_id> waiting;                  // not started yet
  std::set<protocol::content_id> running;                    // downloads under way
  std::map<protocol::content_id, protocol::manifest> known;  // from an earlier run: no need to ask
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  bool active() const { return state == phase::starting || state == phase::downloading; }
};

// Which entries to fetch (record.only, or all) and which files that takes,
// each once: fills selected, pending and waiting.
result<std::monostate> plan_folder(folder_transfer& f);
bool all_files_in_place(const folder_record& r);

}  // namespace peerlab::peer

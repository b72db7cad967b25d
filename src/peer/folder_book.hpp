#pragma once
// The folders this node shares or downloads, as kept in DATA_DIR/folders/:
//   ID.folder   the folder manifest (its bytes hash to ID);
//   ID.json     where it lives, whether it is complete, --only, and the
//               stamp of every file in place (for a shared folder, or one
//               whose download completed);
//   ID.files    one manifest per file of the folder, appended as they become
//               known (each checked against its id when read back, so a
//               torn tail after a crash is only dropped);
//   ID.done     a download's progress: one byte per entry, 1 = the file is
//               verified and in place (written like a chunk map);
//   ID.bt       the BitTorrent hashes of its files (folder_torrent.hpp),
//               checked against the manifest's sizes when read back.
// A folder's files are ordinary contents of the store (in_folder), so the
// swarm serves and fetches them as any file; this book says where they go.
// All functions marked blocking run on a disk_io lane.

#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peer/file_handle.hpp"
#include "peer/store.hpp"
#include "protocol/bt_hash.hpp"
#include "protocol/folder_manifest.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::peer {

// A folder's BitTorrent hashes: every file hashed with the one piece length
// of the folder's torrents (folder_torrent.hpp), in the read that hashed its
// chunks when the folder was shared.
struct folder_bt_hashes {
  std::uint32_t piece_length = 0;
  std::vector<protocol::bt::aligned_file_hashes> files;  // per entry (directories: empty)
  // The info-hashes of its v1, v2 and hybrid torrents (their info
  // dictionaries name no tracker), by torrent_format; none for a folder
  // that makes no torrent (no byte in it).
  std::optional<std::array<protocol::bt::info_hashes, 3>> info_hashes;
};

struct folder_record {
  protocol::content_id id{};
  protocol::folder_manifest manifest;
  fs::path root;                  // the folder on disk: shared from, or downloaded into
  bool shared = false;            // shared from disk (else downloaded)
  bool complete = false;          // every selected file is in place
  std::vector<std::string> only;  // a download's --only paths (empty: all)
  std::vector<std::optional<file_stamp>> stamps;  // per entry: the file in place
  std::shared_ptr<file_handle> done_map;          // a download in progress: ID.done
  // Its BitTorrent hashes; null until known (a folder recorded by an older
  // version, or downloaded: hashed when a torrent is first asked for).
  std::shared_ptr<const folder_bt_hashes> bt;

  fs::path path_of(std::size_t entry) const { return root / manifest.entries[entry].path; }
};

class folder_book {
 public:
  explicit folder_book(fs::path data_dir) : dir_(std::move(data_dir) / "folders") {}

  // Blocking: reads every folder an earlier run left. Files of a shared
  // folder that changed since are dropped from it (and said so in the log).
  struct loaded {
    std::vector<folder_record> records;
    std::map<protocol::content_id, protocol::manifest> files;  // by id
  };
  result<loaded> load() const;

  // Blocking: writes ID.folder and ID.json (atomically), and for a download
  // in progress opens (or creates) ID.done into record.done_map.
  result<std::monostate> save(folder_record& record) const;
  // Blocking: appends file manifests to ID.files.
  // `fresh`: replaces what the file held (a folder shared anew).
  result<std::monostate> append_files(const protocol::content_id& folder,
                                      const std::vector<protocol::manifest>& files,
                                      bool fresh = false) const;
  // Blocking: writes ID.bt (atomically).
  result<std::monostate> save_bt(const protocol::content_id& folder,
                                 const folder_record& record) const;
  // Blocking: entry `index` is in place (ID.done).
  static result<std::monostate> mark_done(const file_handle& done_map, std::size_t index);
  // Blocking: the ID.done bytes (empty if none).
  std::vector<std::uint8_t> read_done(const protocol::content_id& folder) const;

  fs::path folder_path(const protocol::content_id& id, const char* suffix) const;

 private:
  fs::path dir_;
};

}  // namespace peerlab::peer

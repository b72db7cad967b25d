#pragma once
// Sharing a folder: walking it, and hashing its files in place, in parallel,
// for peerlab (chunks) and BitTorrent (pieces) in one read (a file whose
// stamp is the one recorded when it was last hashed is not read again).
// Blocking: runs on the disk layer's hashing lane.

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "peer/folder_book.hpp"

namespace peerlab::peer {

struct scanned_folder {
  protocol::folder_manifest manifest;
  std::vector<std::optional<file_stamp>> stamps;             // per entry (files only)
  std::map<protocol::content_id, protocol::manifest> files;  // every file's manifest, by id
  std::size_t hashed = 0;                                    // files read and hashed this time
  std::size_t skipped = 0;  // symbolic links, devices, sockets: not shared
  // Every file's BitTorrent hashes (folder_torrent.hpp), from the same read;
  // null when some are not known (an earlier record without them).
  std::shared_ptr<const folder_bt_hashes> bt;
};

// `earlier`: the same folder as last shared (its stamps and file manifests).
result<scanned_folder> scan_folder(
    const fs::path& root, const folder_record* earlier,
    const std::map<protocol::content_id, protocol::manifest>& known_files);

}  // namespace peerlab::peer

#pragma once
// Storage: what this node holds, completely or partly, and the positional file
// I/O behind it. Shared files are read in place (never copied); a download is
// written into NAME.peerlab-partial next to its target and renamed into place
// only when every chunk is verified. The catalog, the manifests and each
// download's chunk map persist in the data directory, so a restarted node
// shares the same files and resumes without fetching a verified chunk twice.
//
// The store object lives on the network thread and does no blocking I/O there:
// once use(disk_io) is called, the catalog and manifests are saved on the disk
// layer's files lane, and the functions marked "blocking" are meant to run
// on one of its lanes (load() runs once at start, before the node serves).
// The stateless file operations are in store_files.cpp.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peer/bt_info.hpp"
#include "peer/chunk_check.hpp"
#include "peer/chunk_set.hpp"
#include "peer/file_handle.hpp"
#include "peer/torrent_tree.hpp"
#include "protocol/manifest.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

class disk_io;
using protocol::error;
using protocol::result;
namespace fs = std::filesystem;

// How a file looked when it was hashed: if any of this changes, its manifest
// no longer describes it.
struct file_stamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  // The change time: unlike the modification time, no one can set it back,
  // so a file rewritten in place and given its old mtime is still caught.
  std::int64_t ctime_ns = 0;
  bool operator==(const file_stamp&) const = default;
};

struct content {
  protocol::content_id id{};
  protocol::manifest manifest;
  fs::path path;  // complete: the shared file; partial: the download's target
  bool complete = false;
  file_stamp stamp;  // complete only
  chunk_set have;
  std::shared_ptr<file_handle> partial;    // partial only: the open partial file
  std::shared_ptr<file_handle> chunk_map;  // partial only: one byte per chunk, 1 = verified
  // Complete only, once its BitTorrent hashes are known (null before); a
  // torrent download's from the start.
  std::shared_ptr<const bt_info> bt;
  // One of a folder's files: recorded with its folder (folder_book), not in
  // catalog.json, and announced as part of the folder.
  bool in_folder = false;
  // Born of a .torrent or magnet, not of a peerlab share: its manifest's chunk_size is the piece
  // length and its chunk_hashes are all zero (unused); its chunks are checked against `bt`'s hashes
  // (v1 SHA-1 when the torrent has them, else the v2 piece layer); `bt` is set from the start; it
  // is never in the peerlab catalog.
  std::optional<protocol::bt::torrent_format> torrent;
  // A multi-file torrent (path: the tree's root): where its files are
  // (partial is null: they are opened through the disk layer's file pool;
  // chunk_map stays, complete or not, since --only may leave pieces out),
  // and per layout file whether it is in place under its final name.
  std::shared_ptr<const torrent_tree> tree;
  std::vector<bool> placed;

  fs::path partial_path() const { return path.string() + ".peerlab-partial"; }
  // The manifest's SHA-256, or the torrent's hash for that piece (store_torrent.cpp).
  chunk_check check(std::size_t index) const;
  // The bytes of the chunks it holds (verified).
  std::uint64_t bytes_held() const;

 private:
  chunk_check check_v2_file_piece(std::size_t index) const;
};

// What hashing a file to share it gives.
struct hashed_file {
  protocol::manifest manifest;
  file_stamp stamp;
  protocol::bt::file_hashes bt;
};

class store {
 public:
  explicit store(fs::path data_dir) : dir_(std::move(data_dir)) {}

  // From now on the catalog and manifests are written through `disk`.
  void use(disk_io& disk) { disk_ = &disk; }
  const fs::path& dir() const { return dir_; }

  // Reads the catalog, manifests and chunk maps left by an earlier run.
  // Entries whose files vanished are dropped (and said so in the log).
  result<std::monostate> load();

  const std::map<protocol::content_id, content>& items() const { return items_; }
  // Downloads whose partial file cannot be opened now (e.g. a read-only
  // directory): kept in the catalog, with why, until add_download resumes them.
  const std::map<protocol::content_id, std::pair<content, std::string>>& unavailable() const {
    return unavailable_;
  }
  content* find(const protocol::content_id& id);

  result<std::monostate> add_shared(const hashed_file& h, const fs::path& file);
  // Blocking: creates (or, for one that could not be resumed at start,
  // reopens) the partial file (sparse, full size) and its chunk map, and
  // writes the manifest. Then add_download records it.
  // `earlier`: unavailable().find(id)'s entry, if any (looked up on the
  // network thread, which owns that map).
  result<content> prepare_download(const protocol::manifest& m, const fs::path& target,
                                   std::optional<content> earlier) const;
  // Blocking: a torrent's download: the partial file (sparse, full size; reopened where an earlier
  // run left it), its chunk map, and the torrent kept in the data directory (torrents/ID.torrent:
  // the info dictionary and, for v2, the piece layers — whatever lets load() rebuild the same
  // torrent_info) so a restarted node resumes it. A single-file torrent only (make_bt_info);
  // `earlier` as for prepare_download.
  // A multi-file torrent: its tree at `target` (torrent_tree), `only` the files to fetch.
  result<content> prepare_torrent_download(const protocol::bt::torrent_info& t,
                                           const fs::path& target, std::optional<content> earlier,
                                           const std::vector<std::string>& only = {}) const;
  // A shared folder's torrent `t` (multi-file), served from the folder's own
  // files under `root`: a complete tree, never saved (the folder's record
  // makes it again at every start). Add it with add_download.
  result<content> folder_torrent(const protocol::bt::torrent_info& t, const fs::path& root) const;
  // Records a download (a torrent's indexed by its info-hashes at once).
  void add_download(content c);
  // Blocking: a folder's file to download (c.in_folder): its partial file
  // opened where an earlier run left it (its chunks verified again: there is
  // no chunk map), else created. The manifest is kept by the folder
  // (folder_book), not in manifests/.
  result<content> prepare_folder_file(const protocol::manifest& m, const fs::path& target) const;
  // Records a verified chunk that the disk layer already wrote.
  void mark_chunk(const protocol::content_id& id, std::size_t index);
  // Records a download that the disk layer flushed and renamed into place
  // (now with `stamp`): the content becomes shared.
  void complete_download(const protocol::content_id& id, const file_stamp& stamp);
  // A multi-file torrent's file `i` is in place.
  void mark_placed(const protocol::content_id& id, std::size_t i);
  void remove(const protocol::content_id& id);

  // BitTorrent (store_bt.cpp). Records a complete file's BitTorrent hashes,
  // indexes its info-hashes and (if `save`) writes them next to its manifest.
  // (A torrent download's, complete or not, are never saved: its kept
  // torrent holds them.)
  void set_bt(const protocol::content_id& id, std::shared_ptr<const bt_info> info, bool save);
  // The file (and which of its torrents) a handshake's info-hash names: a
  // complete file, or a torrent download still partial (callers check
  // item->complete or item->have).
  struct bt_match {
    const content* item;
    protocol::bt::torrent_format format;
  };
  std::optional<bt_match> find_bt(const protocol::bt::sha1_digest& wire_id) const;
  // Blocking: the BitTorrent hashes of a complete file (one downloaded, or
  // shared by an older version), refusing if it changed since `stamp`.
  static result<protocol::bt::file_hashes> hash_bt(const fs::path& file, const file_stamp& stamp,
                                                   const protocol::manifest& m);

  // Blocking helpers for the worker pool.
  static result<file_stamp> stamp_of(const fs::path& file);
  // Hashes a file into its manifest; fails if the file changes meanwhile.
  // Hashes a file into its manifest and BitTorrent hashes, in one pass;
  // fails if the file changes meanwhile.
  static result<hashed_file> hash_file(const fs::path& file);
  // Opens a complete file for reading, refusing if it changed since `stamp`.
  static result<std::shared_ptr<file_handle>> open_shared(const fs::path& file,
                                                          const file_stamp& stamp);
  // Brings a range of a file into the page cache (blocking until it is
  // there), so that sending it from the network thread will not wait on disk.
  static void prefetch(const file_handle& file, std::uint64_t offset, std::uint64_t length);
  static result<std::vector<std::uint8_t>> read_at(const file_handle& file, std::uint64_t offset,
                                                   std::uint32_t length);
  static result<std::monostate> write_at(const file_handle& file, std::uint64_t offset,
                                         std::span<const std::uint8_t> data);

 private:
  result<std::monostate> save_catalog() const;
  void save(const fs::path& path, std::string contents) const;
  fs::path manifest_path(const protocol::content_id& id) const;
  fs::path chunk_map_path(const protocol::content_id& id) const;
  fs::path bt_hashes_path(const protocol::content_id& id) const;
  void load_bt(content& c);  // the saved BitTorrent hashes, if any and valid
  void index_bt(const content& c);
  void unindex_bt(const protocol::content_id& id);
  // store_torrent.cpp: a torrent download's kept torrent.
  fs::path torrent_path(const protocol::content_id& id) const;
  // Rebuilds c (id and path set) from its kept torrent; an error if the
  // file is missing, corrupt, not of `format` or not of c.id.
  result<std::monostate> load_torrent(content& c, const std::string& format,
                                      const std::vector<std::string>& only) const;
  // A multi-file torrent's chunk map and files: made, or reopened (its files
  // in place found) — complete or not.
  result<std::monostate> open_tree(content& c, bool create) const;
  result<std::monostate> open_partial(content& c, bool create) const;

  fs::path dir_;
  disk_io* disk_ = nullptr;
  std::map<protocol::content_id, content> items_;
  std::map<protocol::content_id, std::pair<content, std::string>> unavailable_;
  std::map<protocol::bt::sha1_digest, std::pair<protocol::content_id, protocol::bt::torrent_format>>
      bt_index_;
};

}  // namespace peerlab::peer

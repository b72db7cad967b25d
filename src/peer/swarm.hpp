#pragma once
// The swarm: moving files between peers. It routes the transfer messages of
// every connected peer to the parts that each do one job:
// - catalog: what each peer holds (§8.1);
// - download (one per content): manifest, chunk maps, the request pipeline;
// - uploader: serving chunks, with the upload_scheduler's turns;
// - disk_io: every read, write, fsync and rename, off the network thread.
// It verifies each chunk before it is written and shares files while they
// download. All its state lives on the network thread.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "peer/bt_download_events.hpp"
#include "peer/bt_seeder.hpp"
#include "peer/catalog.hpp"
#include "peer/connection.hpp"
#include "peer/disk_io.hpp"
#include "peer/download.hpp"
#include "peer/folder_transfer.hpp"
#include "peer/rate_limiter.hpp"
#include "peer/store.hpp"
#include "peer/tracker_client.hpp"
#include "peer/uploader.hpp"
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

struct transfer_info {
  std::string id;
  std::string name;
  std::uint64_t size = 0;
  std::string output;
  std::string state;  // manifest | downloading | complete | failed
  std::string error;
  std::uint64_t bytes_done = 0;
  std::size_t chunks_done = 0;
  std::size_t chunks_total = 0;
  std::size_t chunks_resumed = 0;   // verified chunks found on disk at start
  std::size_t chunks_fetched = 0;   // received and verified in this run
  std::size_t chunks_rejected = 0;  // failed verification
  double rate = 0;                  // bytes per second, recent
  std::size_t peers = 0;            // peers with requests in flight
  std::optional<double> eta_seconds;
  std::map<std::string, std::size_t> sources;  // peer name -> chunks it sent
  std::vector<std::string> chunk_sources;      // per chunk: who sent it ("" = not yet / disk)
  std::string chunk_map;  // per chunk: '1' verified, '~' requested or being verified, '0' missing
  bool folder = false;
  std::vector<folder_file_progress> files;  // a folder's: per file (and empty directory)
  std::string protocol = "peerlab";         // peerlab | bittorrent (a torrent's download)
  std::vector<tracker_status> trackers;     // a torrent's
};

struct file_info {
  std::string id;
  std::string name;
  std::uint64_t size = 0;
  std::size_t holders = 0;
  std::string local;       // complete | partial | ""
  std::size_t chunks = 0;  // local files only (peers' catalogs do not say)
  std::uint32_t chunk_size = 0;
  std::shared_ptr<const bt_info> bt;  // complete local files, once hashed for BitTorrent
  bool folder = false;
  std::size_t file_count = 0;  // a folder's files (local folders only)
  // A complete local folder's BitTorrent hashes and info-hashes, once known.
  std::shared_ptr<const folder_bt_hashes> folder_bt = nullptr;
};

// A complete, verified file this node shares, for serving over HTTP.
struct local_file {
  fs::path path;
  std::string name;
  std::uint64_t size = 0;
  file_stamp stamp;
};

class swarm final : private bt_download_events {
 public:
  swarm(asio::io_context& io, store& storage, swarm_settings settings);
  ~swarm();

  // The node's upload limit: under one, uploads are chosen one chunk at a time.
  void set_upload_limit(const rate_limiter* limit) { uploader_.set_upload_limit(limit); }
  // Where connections take buffers for chunks; written chunks go back there.
  const std::shared_ptr<protocol::buffer_recycler>& chunk_buffers() const { return chunk_buffers_; }

  void start();  // resumes downloads left by an earlier run
  void stop();

  void on_connected(const std::shared_ptr<connection>& c);
  void on_disconnected(const std::shared_ptr<connection>& c);
  // Handles a transfer message; false if it broke the protocol (close it).
  // May take over the message's data (a chunk is moved, not copied).
  bool handle(const std::shared_ptr<connection>& c, protocol::message& m);
  bool is_banned(const protocol::node_id& id) const;

  // Hashes a file (on the disk layer) and shares it; returns its content id.
  asio::awaitable<result<protocol::content_id>> share(fs::path file);
  // Starts (or joins) the download of a full id or a unique prefix of ≥ 8 hex
  // digits; `output` empty means `directory`/NAME.
  // `only`: for a folder, the files and subfolders to fetch (empty: all).
  result<protocol::content_id> get(const std::string& id_or_prefix, const fs::path& output,
                                   const fs::path& directory, std::vector<std::string> only = {});

  // Starts (or joins) the download of a torrent: `torrent_file` is read on
  // the disk layer (at most 16 MiB). Its content id is the SHA-256 of the
  // torrent's info dictionary.
  // A multi-file torrent's files go under `output` (or `directory`/NAME);
  // `only`: its files and directories to fetch (empty: all).
  asio::awaitable<result<protocol::content_id>> get_torrent(fs::path torrent_file, fs::path output,
                                                            fs::path directory,
                                                            std::vector<std::string> only = {});
  // Starts (or joins) the download of a magnet link's torrent (a v2-only
  // one's piece layers are fetched by hash requests first).
  result<protocol::content_id> get_magnet(const std::string& uri, const fs::path& output,
                                          const fs::path& directory,
                                          std::vector<std::string> only = {});
  // Our peer port's address: announced to a torrent's trackers.
  void set_listen(const protocol::endpoint& e) {
    listen_ = e;
    bt_.set_listen_port(e.port);
  }

  // Returns once download `id` ends (complete or failed), is unknown, or
  // `at_most` has passed: lets a client follow a transfer without polling.
  asio::awaitable<void> wait_for_end(protocol::content_id id, duration at_most);

  std::vector<transfer_info> transfers() const;
  std::optional<transfer_info> transfer(const protocol::content_id& id) const;
  std::vector<file_info> files() const;
  std::optional<local_file> complete_file(const protocol::content_id& id) const;
  // Whether this node seeds the torrent this 20-byte info-hash names (v1, v2
  // or hybrid torrent of a complete file): what its own tracker lists it for.
  // A hybrid torrent is listed under its v1 hash only: listed under both,
  // libtorrent (which announces both) never got a byte (e2e.bittorrent).
  bool seeds_bt(const protocol::bt::sha1_digest& wire_id) const {
    const auto match = store_.find_bt(wire_id);
    return match && match->item->complete &&
           match->item->bt->of(match->format).hashes.wire_id() == wire_id;
  }
  // BitTorrent peers on the peer port (they share the uploader).
  bt_seeder& bittorrent() { return bt_; }
  const bt_seeder& bittorrent() const { return bt_; }
  const store& storage() const { return store_; }

  // A folder this node shares or downloads (nullptr: none), and the file at
  // `path` in it if it is in place.
  const folder_record* folder(const protocol::content_id& id) const;
  std::optional<local_file> folder_file(const protocol::content_id& id,
                                        std::string_view path) const;
  // A complete folder's BitTorrent hashes (swarm_folder_torrent.cpp): those
  // kept since it was shared, else hashed now on the hashing lane (a folder
  // recorded by an older version, or downloaded), once, and saved. An error
  // if a file changed, or while another request has them hashed.
  asio::awaitable<result<std::shared_ptr<const folder_bt_hashes>>> folder_bt(
      protocol::content_id id);
  // The known content ids (ours and our peers') that start with `prefix`.
  std::set<protocol::content_id> matches(const std::string& prefix) const;
  // The one id `id_or_prefix` names, if exactly one matches.
  std::optional<protocol::content_id> resolve(const std::string& id_or_prefix) const;

 private:
  class peer;  // a connected peer, as a chunk_source

  asio::awaitable<void> maintenance_loop();
  asio::awaitable<void> drop_changed_files();
  void stop_sharing(const protocol::content_id& id);
  // Computes (on the hashing lane) the BitTorrent hashes of a complete file
  // that has none: downloaded ones, and those shared by older versions.
  asio::awaitable<void> hash_for_bittorrent(protocol::content_id id);

  // Torrents (swarm_torrent.cpp): a torrent's download is an ordinary
  // download whose chunks are its pieces and whose sources are BitTorrent
  // sessions; its trackers find them.
  asio::awaitable<void> begin_torrent(std::shared_ptr<download> d, protocol::bt::torrent_info t);
  void start_trackers(const protocol::content_id& id, const protocol::bt::sha1_digest& wire_id,
                      const std::vector<std::string>& urls);
  void add_bt_sources(download& d);
  // A multi-file torrent (swarm_torrent_files.cpp): its files renamed into
  // place as their pieces are verified; complete once every selected one is.
  asio::awaitable<void> finish_tree(std::shared_ptr<download> d);
  void tree_progress(const content& item, transfer_info& t) const;
  void metadata_done(const protocol::bt::info_hashes& hashes);
  void look_for_bt_sources(const download& d, std::chrono::steady_clock::time_point now);
  // Where our peerlab peers listen (they speak BitTorrent there too).
  std::vector<protocol::endpoint> peer_addresses() const;
  chunk_source* source(std::uint64_t key);
  void ban_source(std::uint64_t key, const std::string& why);
  void bt_source_ready(bt_session& s) override;
  void bt_source_has(bt_session& s, std::uint32_t piece) override;
  void bt_source_gone(bt_session& s) override;
  void bt_piece(bt_session& s, std::uint32_t piece, std::vector<std::uint8_t> data) override;
  void bt_rejected(bt_session& s, std::uint32_t piece) override;
  void bt_metadata(const protocol::bt::sha1_digest& wire_id,
                   std::vector<std::uint8_t> info) override;
  void bt_hashes(bt_session& s, protocol::bt::hashes h) override;
  void ask_piece_layer(const protocol::bt::sha1_digest& wire_id);
  // The next file whose piece layer a v2 magnet lacks, asked for; or, when
  // none is left, the download begins.
  void next_piece_layer(const protocol::bt::sha1_digest& wire_id);
  void start_magnet(const protocol::bt::sha1_digest& wire_id);
  // The id a transfer is known by now (a magnet's stand-in names the real one).
  protocol::content_id current_id(const protocol::content_id& id) const;

  void on_catalog(peer& p, const protocol::catalog& m);
  void on_manifest(peer& p, const protocol::manifest_data& m);
  bool on_chunk_map(peer& p, const protocol::chunk_map& m);
  bool on_have(peer& p, const protocol::have& m);
  void on_reject(peer& p, const protocol::reject& m);
  asio::awaitable<void> receive_chunk(std::uint64_t from, protocol::chunk m);

  // The download of `id` for a new get: a fresh one, or the failed one
  // restarted; nullptr if one is under way (the get joins it).
  std::shared_ptr<download> new_attempt(const protocol::content_id& id);
  void ask_manifest(download& d);
  asio::awaitable<void> begin_download(std::shared_ptr<download> d, protocol::manifest m);
  void start_requests(download& d, protocol::manifest m);
  void ask_chunk_maps(download& d);
  void fill_all();
  asio::awaitable<void> finish(std::shared_ptr<download> d);
  void fail(download& d, std::string why);
  void completed(download& d, const char* units);
  void wake_end_waiters();  // of wait_for_end: a download ended, or the node stops
  void ban(peer& p, const std::string& why);
  void broadcast_catalog();
  transfer_info info_of(const download& d) const;

  // Folders (swarm_folders.cpp): a folder download runs its files as
  // ordinary downloads, a few at a time, and places each as it completes.
  void load_folders();
  asio::awaitable<result<protocol::content_id>> share_folder(fs::path dir);
  bool holds(std::uint64_t peer, const protocol::content_id& id) const;
  bool is_folder_file(const protocol::content_id& id) const;
  void add_own_folders(protocol::catalog& c) const;
  protocol::catalog own_catalog() const;
  void on_folder_catalog(const protocol::catalog& m);
  std::vector<std::uint8_t> folder_manifest_bytes(const protocol::content_id& id) const;
  void on_folder_manifest(std::shared_ptr<download> d, std::vector<std::uint8_t> bytes);
  asio::awaitable<void> begin_folder(protocol::content_id id);
  void run_folder_files(folder_transfer& f);
  void start_folder_file(folder_transfer& f, const protocol::content_id& file);
  asio::awaitable<void> begin_folder_file(std::shared_ptr<download> d, protocol::manifest m);
  asio::awaitable<void> finish_folder_file(std::shared_ptr<download> d);
  asio::awaitable<void> place_folder_file(protocol::content_id file, fs::path from);
  void folder_file_failed(const download& d);
  void end_folder(folder_transfer& f, std::string why);
  transfer_info folder_info(const folder_transfer& f) const;

  // Declared first, destroyed last: work still on its lanes finishes first.
  disk_io disk_;
  std::shared_ptr<protocol::buffer_recycler> chunk_buffers_ =
      std::make_shared<protocol::buffer_recycler>();
  asio::io_context& io_;
  store& store_;
  swarm_settings settings_;
  asio::steady_timer tick_;
  bool running_ = false;
  catalog catalog_;
  uploader uploader_;
  bt_seeder bt_;
  std::map<std::uint64_t, std::unique_ptr<peer>> peers_;  // by connection serial
  std::map<protocol::content_id, std::shared_ptr<download>> downloads_;
  std::map<protocol::node_id, std::chrono::steady_clock::time_point> banned_until_;
  std::set<asio::steady_timer*> end_waiters_;  // of wait_for_end, woken when a download ends
  folder_book folder_book_;
  std::map<protocol::content_id, folder_transfer> folders_;  // shared and downloaded
  std::map<protocol::content_id, std::set<protocol::content_id>> file_folders_;  // file -> folders
  std::map<protocol::content_id, std::vector<std::string>> folder_only_;  // asked, manifest pending
  std::set<protocol::content_id> folder_bt_hashing_;  // folders being hashed for BitTorrent
  // A complete folder with its hashes is seeded over BitTorrent: its torrents
  // (v1, v2, hybrid) as complete trees over its own files (store contents).
  void seed_folder_torrents(const folder_record& r);
  void unseed_folder_torrents(const protocol::content_id& folder);
  std::map<protocol::content_id, std::vector<protocol::content_id>> folder_torrents_;
  protocol::endpoint listen_;
  std::map<protocol::content_id, std::unique_ptr<tracker_client>> trackers_;  // per torrent
  struct magnet_wait {
    protocol::content_id id;  // what the download waits under
    std::vector<std::string> trackers;
    std::optional<protocol::bt::torrent_info> torrent;  // its metadata, once in
    // A v2 torrent's piece layers, one file's at a time, as they come (BEP
    // 52 hash requests): the file's index in torrent->files, and its layer.
    std::size_t layer_file = 0;
    std::vector<protocol::bt::sha256_digest> layer;
    std::size_t layer_missing = 0;
    std::optional<std::uint64_t> layer_from;  // the session asked
    std::set<std::uint64_t> layer_asked;      // sessions asked so far
  };
  std::map<protocol::bt::sha1_digest, magnet_wait> magnets_;      // metadata not yet here
  std::map<protocol::content_id, protocol::content_id> renamed_;  // stand-in -> real id
  std::map<protocol::content_id, std::chrono::steady_clock::time_point> bt_redialed_;
};

}  // namespace peerlab::peer

#pragma once
// The swarm: moving files between peers. It tells peers what this node holds
// (catalog), fetches manifests, asks every holder for chunks in parallel
// (rarest first, several requests in flight per peer, an endgame), verifies
// each chunk before it is written, and serves chunks to others, including
// those of files it is still downloading. Hashing and disk I/O run on a small
// worker pool; all state lives on the network thread.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "peer/connection.hpp"
#include "peer/piece_picker.hpp"
#include "peer/rate_limiter.hpp"
#include "peer/store.hpp"
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
};

struct file_info {
  std::string id;
  std::string name;
  std::uint64_t size = 0;
  std::size_t holders = 0;
  std::string local;       // complete | partial | ""
  std::size_t chunks = 0;  // local files only (peers' catalogs do not say)
  std::uint32_t chunk_size = 0;
};

// A complete, verified file this node shares, for serving over HTTP.
struct local_file {
  fs::path path;
  std::string name;
  std::uint64_t size = 0;
  file_stamp stamp;
};

class swarm {
 public:
  swarm(asio::io_context& io, store& storage, swarm_settings settings);
  ~swarm();

  // The node's upload limit: under one, uploads are chosen one chunk at a time.
  void set_upload_limit(const rate_limiter* limit) { upload_limit_ = limit; }

  void start();  // resumes downloads left by an earlier run
  void stop();

  void on_connected(const std::shared_ptr<connection>& c);
  void on_disconnected(const std::shared_ptr<connection>& c);
  // Handles a transfer message; false if it broke the protocol (close it).
  // May take over the message's data (a chunk is moved, not copied).
  bool handle(const std::shared_ptr<connection>& c, protocol::message& m);
  bool is_banned(const protocol::node_id& id) const;

  // Hashes a file (on the pool) and shares it; returns its content id.
  asio::awaitable<result<protocol::content_id>> share(fs::path file);
  // Starts (or joins) the download of a full id or a unique prefix of ≥ 8 hex
  // digits; `output` empty means `directory`/NAME.
  result<protocol::content_id> get(const std::string& id_or_prefix, const fs::path& output,
                                   const fs::path& directory);

  // Returns once download `id` ends (complete or failed), is unknown, or
  // `at_most` has passed: lets a client follow a transfer without polling.
  asio::awaitable<void> wait_for_end(protocol::content_id id, duration at_most);

  std::vector<transfer_info> transfers() const;
  std::optional<transfer_info> transfer(const protocol::content_id& id) const;
  std::vector<file_info> files() const;
  std::optional<local_file> complete_file(const protocol::content_id& id) const;
  // The known content ids (ours and our peers') that start with `prefix`.
  std::set<protocol::content_id> matches(const std::string& prefix) const;
  // The one id `id_or_prefix` names, if exactly one matches.
  std::optional<protocol::content_id> resolve(const std::string& id_or_prefix) const;

 private:
  struct peer_state;
  struct download;
  struct upload_slot;
  // A request waiting in a peer's upload queue, and since when.
  struct queued_upload {
    protocol::request request;
    std::chrono::steady_clock::time_point since;
  };

  asio::awaitable<void> maintenance_loop();
  asio::awaitable<void> drop_changed_files();
  asio::awaitable<void> upload_loop(protocol::node_id peer);
  bool is_next_in_turn(const peer_state& p) const;
  std::size_t times_uploaded(const protocol::request& r) const;
  std::deque<queued_upload>::iterator next_upload(peer_state& p);
  bool turn_away_stale_uploads(peer_state& p);
  void wake_upload_loops();  // a slot freed, or whose turn it is may have changed
  bool should_decline(const peer_state& p, const protocol::request& r) const;
  asio::awaitable<void> receive_chunk(protocol::node_id peer, protocol::chunk m);

  void on_catalog(peer_state& p, protocol::catalog m);
  void on_manifest(peer_state& p, const protocol::manifest_data& m);
  bool on_chunk_map(peer_state& p, const protocol::chunk_map& m);
  bool on_have(peer_state& p, const protocol::have& m);
  bool on_request(peer_state& p, const protocol::request& m);
  void on_reject(peer_state& p, const protocol::reject& m);

  void ask_manifest(download& d);
  void begin_download(download& d, protocol::manifest m);
  void ask_chunk_maps(download& d);
  void fill_requests(download& d, peer_state& p);
  void fill_all();
  void finish(download& d);
  void wake_end_waiters();  // of wait_for_end: a download ended, or the node stops
  void fail(download& d, std::string why);
  void ban(peer_state& p, const std::string& why);
  void forget_requests(download& d, const protocol::node_id& peer);
  void broadcast_catalog();
  protocol::catalog own_catalog() const;
  std::size_t holders_of(const protocol::content_id& id) const;
  transfer_info info_of(const download& d) const;

  asio::io_context& io_;
  store& store_;
  swarm_settings settings_;
  asio::thread_pool pool_{2};  // hashing and disk I/O, off the network thread
  asio::steady_timer tick_;
  bool running_ = false;
  std::map<protocol::node_id, std::unique_ptr<peer_state>> peers_;
  std::map<protocol::content_id, std::unique_ptr<download>> downloads_;
  std::map<protocol::node_id, std::chrono::steady_clock::time_point> banned_until_;
  std::map<protocol::content_id, std::vector<std::uint32_t>> upload_counts_;  // per chunk
  const rate_limiter* upload_limit_ = nullptr;
  std::size_t uploads_active_ = 0;             // chunks picked and not yet written
  std::uint64_t upload_turns_ = 0;             // upload slots handed out so far
  asio::steady_timer upload_waiters_;          // upload loops waiting for a slot or their turn
  std::set<asio::steady_timer*> end_waiters_;  // of wait_for_end, woken when a download ends
};

}  // namespace peerlab::peer

#pragma once
// Serving chunks to peers. Requests wait in per-peer queues (cheap: a few
// bytes each); one dispatcher hands out upload slots with the
// upload_scheduler's choices, and a chunk is read (into the page cache, on
// the disk layer) only when its peer's socket can take it now. A connection
// thus holds at most one chunk in our queue and about notsent_lowat_bytes in
// the kernel: a `cancel` removes everything else, and a peer that stops
// reading holds no slot and no turn (docs/protocol.md §8.5).

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "peer/connection.hpp"
#include "peer/disk_io.hpp"
#include "peer/rate_limiter.hpp"
#include "peer/settings.hpp"
#include "peer/store.hpp"
#include "peer/upload_scheduler.hpp"

namespace peerlab::peer {

// A peer that speaks another protocol (BitTorrent) takes its chunks
// through this instead of peerlab's chunk and reject frames.
class upload_sink {
 public:
  virtual ~upload_sink() = default;
  // Chunk r will not be served (declined, or not here).
  virtual void reject(const protocol::request& r) = 0;
  // Chunk r's turn: it is in the page cache, in `parts` (one part for a
  // single file; a multi-file torrent's piece may span files and pads).
  virtual void send(const protocol::request& r, const std::vector<file_part>& parts) = 0;
};

class uploader {
 public:
  using peer_key = std::uint64_t;

  uploader(asio::io_context& io, store& storage, disk_io& disk, const swarm_settings& settings);

  // The node's upload limit: under one, a few chunks go out at a time.
  void set_upload_limit(const rate_limiter* limit) { upload_limit_ = limit; }
  // Called when a shared file turns out to have changed on disk.
  void on_file_changed(std::function<void(const protocol::content_id&)> f) {
    file_changed_ = std::move(f);
  }

  void start();
  void stop();

  // `sink` (may be null: peerlab framing) must stay valid until remove_peer.
  void add_peer(peer_key key, std::shared_ptr<connection> conn, upload_sink* sink = nullptr);
  void remove_peer(peer_key key);
  // False if the request broke the protocol (close the connection).
  bool on_request(peer_key key, const protocol::request& r);
  void on_cancel(peer_key key, const protocol::request& r);

 private:
  struct peer {
    std::shared_ptr<connection> conn;
    upload_sink* sink = nullptr;
    std::size_t sending = 0;  // chunks between pick and the kernel
    bool watching = false;    // a wait_sendable is under way
    std::set<std::pair<protocol::content_id, std::uint32_t>> preparing;  // on the disk layer
    std::set<std::pair<protocol::content_id, std::uint32_t>> cancelled;  // while preparing
  };

  static void reject(peer& p, const protocol::request& r);
  asio::awaitable<void> dispatch_loop();
  bool ready(peer_key key);
  void act(const upload_scheduler::pick& pick);
  asio::awaitable<void> send_chunk(peer_key key, protocol::request r);
  asio::awaitable<void> watch(peer_key key, std::shared_ptr<connection> conn);
  bool limited() const { return upload_limit_ && upload_limit_->rate() > 0; }
  void wake() { wake_.cancel(); }

  asio::io_context& io_;
  store& store_;
  disk_io& disk_;
  swarm_settings settings_;
  upload_scheduler scheduler_;
  const rate_limiter* upload_limit_ = nullptr;
  std::function<void(const protocol::content_id&)> file_changed_;
  std::map<peer_key, peer> peers_;
  std::size_t active_ = 0;  // chunks picked and not yet handed to the kernel
  bool running_ = false;
  asio::steady_timer wake_;
};

}  // namespace peerlab::peer

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

class uploader {
 public:
  using peer_key = std::uint64_t;

  uploader(asio::io_context& io, store& storage, disk_io& disk, const swarm_settings& settings);

  // The node's upload limit: under one, a few chunks go out at a time and
  // requests waiting long for chunks others already have are turned away.
  void set_upload_limit(const rate_limiter* limit) { upload_limit_ = limit; }
  // Called when a shared file turns out to have changed on disk.
  void on_file_changed(std::function<void(const protocol::content_id&)> f) {
    file_changed_ = std::move(f);
  }

  void start();
  void stop();

  void add_peer(peer_key key, std::shared_ptr<connection> conn);
  void remove_peer(peer_key key);
  // False if the request broke the protocol (close the connection).
  bool on_request(peer_key key, const protocol::request& r);
  void on_cancel(peer_key key, const protocol::request& r);

 private:
  struct peer {
    std::shared_ptr<connection> conn;
    std::size_t sending = 0;  // chunks between pick and the kernel
    bool watching = false;    // a wait_sendable is under way
    std::set<std::pair<protocol::content_id, std::uint32_t>> preparing;  // on the disk layer
    std::set<std::pair<protocol::content_id, std::uint32_t>> cancelled;  // while preparing
  };

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

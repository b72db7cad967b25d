#pragma once
// BitTorrent peers on the peer port: the node seeds every complete file it
// shares to BitTorrent clients (aria2, Transmission, libtorrent), under
// each of its info-hashes (v1, v2, hybrid). A connection whose first byte
// is 0x13 ("\x13BitTorrent protocol") comes here from the node's accept path;
// a bt_session speaks the wire protocol, the choker decides whom we upload
// to, and blocks go out through the same uploader (turns, rate limits,
// sendfile) as chunks to peerlab peers. Lives on the network thread.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "peer/bt_choker.hpp"
#include "peer/connection.hpp"
#include "peer/store.hpp"
#include "peer/trace.hpp"
#include "peer/uploader.hpp"
#include "protocol/bt_wire.hpp"

namespace peerlab::peer {

struct bt_settings {
  std::size_t max_peers = 64;     // BitTorrent connections at once; more are closed
  std::size_t unchoke_slots = 8;  // peers we upload to at once
  std::chrono::steady_clock::duration rotate_every = std::chrono::seconds(10);
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(180);
  std::uint32_t max_queued_blocks = 500;  // advertised as reqq; twice that closes the connection
};

// What the dashboard and `peers --json` show of one BitTorrent peer.
struct bt_peer_info {
  std::string peer_id;  // hex
  std::string client;   // from its extension handshake's `v`, untrusted text
  std::string file;     // the name of what it fetches
  std::string format;   // v1 | v2 | hybrid: the torrent it named
  std::shared_ptr<connection> conn;
};

class bt_session;

class bt_seeder {
 public:
  bt_seeder(asio::io_context& io, store& storage, uploader& up, bt_settings settings = {});
  ~bt_seeder();

  void set_trace(trace_log* trace) { trace_ = trace; }
  void start();
  void stop();  // closes every BitTorrent connection

  // Serves one inbound connection that opened with BitTorrent's handshake,
  // until it closes.
  asio::awaitable<void> serve(std::shared_ptr<connection> c);
  std::vector<bt_peer_info> peers() const;

 private:
  friend class bt_session;
  void apply(const bt_choker::changes& changes);
  asio::awaitable<void> rotate_loop();

  asio::io_context& io_;
  store& store_;
  uploader& uploader_;
  bt_settings settings_;
  trace_log* trace_ = nullptr;
  protocol::bt::peer_id own_id_{};
  bt_choker choker_;
  std::map<std::uint64_t, bt_session*> sessions_;  // by connection serial
  asio::steady_timer rotate_timer_;
  bool running_ = false;
};

}  // namespace peerlab::peer

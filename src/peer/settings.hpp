#pragma once
// Every tunable of the node in one place, with units in the names.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "protocol/endpoint.hpp"

namespace peerlab::peer {

using namespace std::chrono_literals;
using duration = std::chrono::steady_clock::duration;

struct connection_settings {
  duration handshake_timeout = 5s;    // the peer's hello must arrive by then
  duration idle_timeout = 45s;        // nothing received for this long: close
  duration keepalive_interval = 15s;  // nothing sent for this long: send a keepalive
  duration write_timeout = 30s;       // one write making no progress for this long: close
  std::size_t max_queued_bytes = 8 * 1024 * 1024;  // a peer that does not read is dropped
};

struct discovery_settings {
  std::size_t max_known_peers = 1000;
  duration initial_backoff = 1s;
  duration max_backoff = 60s;
  int max_failures_before_forgetting = 8;  // for learned addresses; configured ones stay
};

struct swarm_settings {
  std::size_t requests_per_peer = 8;    // chunk requests in flight to one peer
  duration request_timeout = 15s;       // then the chunk is asked elsewhere
  duration reject_backoff = 1s;         // a rejected chunk is asked of others first for this long
  duration manifest_timeout = 10s;      // then another holder is asked
  duration no_holder_timeout = 30s;     // then the download fails
  duration ban_duration = 10min;        // for a peer that sent bad data
  std::size_t max_queued_uploads = 64;  // per peer; more requests are rejected
  std::size_t upload_queue_bytes = 2 * 1024 * 1024;  // wait for the socket below this
  std::size_t limited_parallel_uploads = 2;  // chunks in progress node-wide under --up-limit
  // Under --up-limit, a request for a chunk already sent to others that has
  // waited this long is turned away (once), so its requester asks them.
  duration upload_wait_limit = 500ms;
  duration file_check_interval = 10s;  // how often shared files are checked for changes
  bool corrupt_uploads = false;        // test-only fault switch (PEERLAB_TEST_CORRUPT_UPLOADS)
};

struct node_settings {
  std::filesystem::path data_dir;
  protocol::endpoint listen = *protocol::parse_endpoint("127.0.0.1:7070");
  std::vector<protocol::endpoint> bootstrap_peers;  // --peer
  std::string name;
  std::uint64_t up_limit_bytes_per_second = 0;  // whole node; 0 = unlimited
  std::uint64_t down_limit_bytes_per_second = 0;
  bool trace = false;  // log every protocol message (--trace)

  std::size_t max_connections = 128;  // established peer connections
  std::size_t max_handshakes = 64;    // inbound connections still in their handshake
  // When those 64 places are full, an address opening connections faster
  // than this (after a burst) may not evict others' (peer/admission.hpp).
  double handshakes_per_second_per_ip = 16;
  double handshake_burst_per_ip = 64;
  // Input held while being received, node-wide: peer frames not yet complete
  // and HTTP request bodies (peer/memory_budget.hpp, docs/security.md).
  std::size_t input_budget_bytes = 64 * 1024 * 1024;
  std::size_t max_concurrent_dials = 8;
  duration dial_timeout = 5s;
  duration dial_tick = 200ms;                 // the dialer looks at most this often
  duration peer_exchange_interval = 10s;      // between get_peers rounds; doubled after
  duration peer_exchange_max_interval = 80s;  // each round that teaches nothing, to this
  std::size_t peer_exchange_fanout = 8;       // peers a round asks, picked at random

  connection_settings connection;
  discovery_settings discovery;
  swarm_settings swarm;
};

}  // namespace peerlab::peer

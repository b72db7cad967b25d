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
  // The kernel keeps about notsent_lowat_time (or two round trips, if
  // longer) of what we send not yet on the wire (TCP_NOTSENT_LOWAT, from the
  // connection's delivery rate), within these bounds: what has not left can
  // still be cancelled, and on a fast link the next chunk is queued before
  // the kernel runs dry.
  std::size_t notsent_lowat_bytes = 256 * 1024;
  std::size_t notsent_lowat_max_bytes = 2 * 1024 * 1024;
  std::chrono::milliseconds notsent_lowat_time{10};
};

struct discovery_settings {
  std::size_t max_known_peers = 1000;
  duration initial_backoff = 1s;
  duration max_backoff = 60s;
  int max_failures_before_forgetting = 8;  // for learned addresses; configured ones stay
};

// How many bytes of requests to keep in flight to one peer (request_window).
struct request_window_settings {
  std::uint64_t min_bytes = 2 * 1024 * 1024;  // the floor (and the start)
  std::uint32_t min_requests = 2;             // whatever the chunk size
  std::uint32_t max_requests = 64;            // what an uploader queues per peer (§8.5)
  duration rate_interval = 2s;                // the delivery rate is measured over this
  // Bytes in flight = round_trips × rate × RTT: twice the bandwidth-delay
  // product, twice again for a lossy path's bursts and lost requests.
  double round_trips = 4;
  // On a path that has lost our packets: the rate × this on top (a lost
  // request reaches the peer only after a retransmission timeout).
  duration loss_slack = 500ms;
};

struct download_settings {
  request_window_settings window;
  // A peer with requests in flight that delivers nothing for this long (plus
  // the time one chunk takes at its rate) has them given to others.
  duration request_timeout = 15s;
  duration reject_backoff = 1s;  // a rejected chunk is asked of others first for this long
  duration sole_holder_reject_backoff = 100ms;  // the same when no other peer has it
};

// BitTorrent peers on the peer port (bt_seeder).
struct bt_settings {
  std::size_t max_peers = 64;     // BitTorrent connections at once; more are closed
  std::size_t unchoke_slots = 8;  // peers we upload to at once
  std::chrono::steady_clock::duration rotate_every = std::chrono::seconds(10);
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(180);
  std::uint32_t max_queued_blocks = 500;  // advertised as reqq; twice that closes the connection
  std::size_t max_half_open = 8;          // dials in flight at once
  std::size_t max_dialed_per_torrent = 30;
  std::size_t max_candidates = 200;  // addresses kept per torrent, waiting for a dial
  std::chrono::steady_clock::duration ban_duration = std::chrono::minutes(10);
  // Pieces being assembled from blocks, all sessions together: a request
  // past this is turned down at once (the download asks again later).
  std::uint64_t max_incoming_bytes = 256 * 1024 * 1024;
  // BEP 11: each peer is told of the others this often (at most once a minute).
  std::chrono::steady_clock::duration pex_every = std::chrono::seconds(60);
  // A dialed peer that keeps us choked and wants nothing this long makes
  // room when other addresses of its torrent wait for a dial slot.
  std::chrono::steady_clock::duration idle_peer_after = std::chrono::seconds(10);
};

struct swarm_settings {
  download_settings download;
  duration manifest_timeout = 10s;   // then another holder is asked
  duration no_holder_timeout = 30s;  // then the download fails
  duration bt_redial_interval = 5s;  // a torrent without sources dials its lost peers again
  bt_settings bittorrent;
  duration ban_duration = 10min;             // for a peer that sent bad data
  std::size_t max_queued_uploads = 64;       // per peer; more requests are rejected
  std::size_t parallel_uploads = 16;         // chunks between pick and kernel, node-wide
  std::size_t limited_parallel_uploads = 2;  // the same under --up-limit
  // A chunk whose connection takes none of it for this long gives its upload
  // slot back: a peer that stops reading holds no slot.
  duration upload_stall_limit = 1s;
  // A request for a chunk already sent to others that has waited this long
  // is turned away (once), so its requester asks them.
  duration upload_wait_limit = 500ms;
  duration file_check_interval = 10s;  // how often shared files are checked for changes
  // A folder's files downloading at once (each an ordinary download).
  std::size_t folder_parallel_files = 64;
  bool corrupt_uploads = false;  // test-only fault switch (PEERLAB_TEST_CORRUPT_UPLOADS)
};

// The LAN beacon (docs/protocol.md §12): multicast on the local network only.
struct lan_discovery_settings {
  bool enabled = true;  // --no-discovery; never on for a node that listens on loopback
  protocol::endpoint group = *protocol::parse_endpoint("239.192.76.80:7071");
  duration first_interval = 1s;              // beacons at start, then 1 s, 2 s, 4 s, … later,
  duration max_interval = 30s;               // then every 30 s
  std::size_t max_received_per_second = 20;  // datagrams beyond this are dropped unparsed
};

// The BitTorrent tracker at GET /announce (peer/tracker_table.hpp): every
// list bounded, so announces from anywhere cannot grow it without end.
struct tracker_settings {
  std::chrono::seconds interval = 120s;     // asked of clients between announces
  std::chrono::seconds min_interval = 30s;  // and the least they should wait
  // An entry not renewed for this long is gone (a client that left without
  // `event=stopped`): two intervals, so one late announce does not drop it.
  std::chrono::seconds entry_lifetime = 240s;
  std::size_t max_torrents = 4096;
  std::size_t max_peers_per_torrent = 1000;
  std::size_t max_peers = 65536;  // over all torrents
  // Entries held by one address (an IPv4 address, or an IPv6 /64: one
  // machine or one home), over all torrents: room for a classroom behind
  // one NAT, not for a flood of made-up peer ids.
  std::size_t max_entries_per_address = 256;
  std::size_t default_numwant = 50;
  std::size_t max_numwant = 200;
  // Announces and scrapes per second per address, after a burst.
  double requests_per_second_per_address = 10;
  double request_burst_per_address = 200;
};

struct node_settings {
  std::filesystem::path data_dir;
  // Every interface, IPv6 and IPv4 (dual stack), as P2P clients do; 0.0.0.0
  // where the system has no IPv6.
  protocol::endpoint listen = *protocol::parse_endpoint("[::]:7070");
  std::vector<protocol::endpoint> bootstrap_peers;   // --peer IP:PORT
  std::vector<protocol::host_port> bootstrap_hosts;  // --peer NAME:PORT, looked up at start
  duration re_resolve_interval =
      10s;  // a name whose dials fail is looked up again at most this often
  duration max_resolve_backoff =
      60s;  // a name that does not resolve is retried 1 s, 2 s, … to this
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
  lan_discovery_settings lan;
  swarm_settings swarm;
  tracker_settings tracker;
};

}  // namespace peerlab::peer

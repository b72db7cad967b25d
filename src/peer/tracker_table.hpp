#pragma once
// The memory of the BitTorrent tracker at GET /announce: for each info-hash,
// who announced it lately, at which address. A client announces, is
// remembered for two intervals and gets back a fair random sample of the
// others, so clients that know nothing but the tracker's URL find each other
// (the lecture's "centralised directory", as in Napster, with the transfers
// themselves peer to peer).
//
// Every list is bounded (tracker_settings): torrents, peers per torrent,
// peers in all, entries per address, peers per answer, requests per second
// per address. Pure bookkeeping: no sockets; the clock and the random seed
// are passed in, so tests never sleep (http/tracker_route.hpp does the I/O).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "peer/admission.hpp"
#include "peer/settings.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/tracker.hpp"

namespace peerlab::peer {

struct tracker_stats {
  std::size_t torrents = 0;
  std::size_t peers = 0;
  std::size_t seeders = 0;
};

// One torrent as a scrape (BEP 48) tells it.
struct tracker_counts {
  std::uint32_t complete = 0;    // seeders
  std::uint32_t incomplete = 0;  // leechers
  std::uint32_t downloaded = 0;  // `completed` events seen
};

class tracker_table {
 public:
  using clock = std::chrono::steady_clock;
  using info_hash = protocol::bt::sha1_digest;
  using local_torrents_hook = std::function<bool(const info_hash&)>;

  explicit tracker_table(tracker_settings settings = {},
                         std::uint32_t seed = std::random_device{}());

  const tracker_settings& settings() const { return settings_; }

  // Takes one request from `from` (its port ignored; an IPv6 address counts
  // with its whole /64) out of its per-second allowance; false: refuse it.
  bool allow_request(const protocol::endpoint& from, clock::time_point now);

  // One announce. `peer`: the address the request came from, with the port
  // the client announced (never an address the client merely claims).
  // `self`: where this node's own peer socket can be reached by that client,
  // listed as a seeder of every info-hash local_torrents() says it seeds. A failure
  // reason is set only for what the client must not retry as is; a client
  // that does not fit the limits is answered, with a warning, but not kept.
  protocol::bt::announce_response announce(const protocol::bt::announce_request& r,
                                           const protocol::endpoint& peer,
                                           const std::optional<protocol::endpoint>& self,
                                           clock::time_point now);

  // nullopt: a torrent nobody announced and this node does not seed.
  std::optional<tracker_counts> scrape(const info_hash& hash, clock::time_point now);

  // Drops every entry older than the entry lifetime (announce() does it
  // itself now and then, so a table nobody asks does not need it).
  void expire(clock::time_point now);
  tracker_stats stats() const;

  // Whether this node seeds an info-hash (20 bytes: v1, or v2 truncated),
  // asked at every announce; none by default. Set by whoever knows the torrents.
  void set_local_torrents(local_torrents_hook hook) { local_torrents_ = std::move(hook); }
  bool seeds_locally(const info_hash& hash) const;

 private:
  struct entry {
    protocol::endpoint address;  // the client's IP, its announced port
    protocol::bt::peer_id id{};
    bool seeder = false;
    clock::time_point seen;
  };
  struct torrent {
    std::vector<entry> peers;  // at most max_peers_per_torrent: scans are cheap
    std::uint32_t downloaded = 0;
  };

  // What a limit counts as one address: an IPv4 address, or an IPv6 /64.
  static protocol::endpoint address_key(const protocol::endpoint& e);
  void erase_entry(torrent& t, std::size_t index);
  void expire_in(torrent& t, clock::time_point now);
  static tracker_counts counts_of(const torrent& t);
  // Why a new entry cannot be kept, or nullptr if it can.
  const char* refusal_for_new(const protocol::endpoint& peer, bool torrent_exists) const;
  std::vector<protocol::bt::tracker_peer> pick_peers(const torrent& t, std::size_t want,
                                                     const protocol::endpoint& asker,
                                                     bool asker_seeds);

  tracker_settings settings_;
  std::map<info_hash, torrent> torrents_;
  std::map<protocol::endpoint, std::size_t> entries_by_address_;  // address_key → entries
  std::size_t peers_ = 0;
  clock::time_point last_sweep_{};
  admission_policy::handshake_rates rates_;
  std::mt19937 rng_;
  local_torrents_hook local_torrents_;
};

}  // namespace peerlab::peer

#pragma once
// Whose request an uploader serves next, and which. Upload capacity is what a
// swarm runs short of, so it is spent on chunks the swarm lacks (docs/protocol.md
// §8.5):
// - peers take turns: the next chunk goes to the ready peer served longest ago;
// - of a peer's queued requests, the chunk uploaded least often goes first;
// - a request for a chunk already uploaded is declined (once) while another
//   ready peer waits for a chunk uploaded to nobody yet, or once it has
//   waited longer than `stale_after`: the copy we sent can reach its
//   requester through the swarm.
// A chunk counts as uploaded from the moment it is picked: on a slow uplink
// it takes seconds to leave, and a second peer asking for it meanwhile
// should get it from the first, not from us. A send given up (its peer
// stopped reading) stops counting until its bytes do leave.
// "Ready" is the caller's to say (a peer whose socket can take data now), so a
// peer that stops reading never holds a turn. Pure bookkeeping with the clock
// passed in; peers are keys that are never reused (a connection's serial).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "protocol/messages.hpp"

namespace peerlab::peer {

struct upload_scheduler_settings {
  std::size_t max_queued = 64;  // per peer; more requests are rejected
  std::chrono::steady_clock::duration stale_after = std::chrono::milliseconds(500);
};

class upload_scheduler {
 public:
  using clock = std::chrono::steady_clock;
  using peer_key = std::uint64_t;
  enum class action { send, decline };
  struct pick {
    peer_key peer;
    protocol::request request;
    action what;
  };

  explicit upload_scheduler(upload_scheduler_settings s = {}) : s_(s) {}

  // Queues a request; false if the peer's queue is full (answer `reject`).
  bool enqueue(peer_key peer, const protocol::request& r, clock::time_point now);
  // Removes a queued request; false if it was not queued.
  bool cancel(peer_key peer, const protocol::request& r);
  void remove(peer_key peer);
  std::size_t queued(peer_key peer) const;

  // The next request to act on among the peers for which ready(peer) holds,
  // taken off its queue; nullopt if no ready peer has one.
  std::optional<pick> next(const std::function<bool(peer_key)>& ready);
  // `peer` is being sent chunk `r`: it goes to the back of the line, and `r`
  // counts as uploaded once more (under way).
  void served(peer_key peer, const protocol::request& r);
  // The send that served() began is over: it left (is in the kernel), or it
  // was given up (never left, or stuck at a peer that stopped reading; a
  // chunk that never reached anyone must not make others' requests for it
  // look stale).
  void sent(const protocol::request& r, bool left);
  // A chunk given up earlier has left after all: one more copy uploaded.
  void delivered(const protocol::request& r);

  // Requests for chunks already uploaded that have waited longer than
  // stale_after, taken off their queues (decline them).
  std::vector<std::pair<peer_key, protocol::request>> take_stale(clock::time_point now);
  // When the oldest such request turns stale (to wake up for it), if any.
  std::optional<clock::time_point> next_stale() const;

  // Copies of `r` uploaded, or picked and under way.
  std::size_t times_uploaded(const protocol::request& r) const;

 private:
  struct queued_request {
    protocol::request request;
    clock::time_point since;
  };
  struct peer_queue {
    std::deque<queued_request> requests;
    std::uint64_t turn = 0;  // when it was last sent a chunk (0: never)
    // Declined once; asked again, served (so declining never starves anyone).
    std::set<std::pair<protocol::content_id, std::uint32_t>> declined;
  };

  bool waits_for_fresh_chunk(peer_key except, const std::function<bool(peer_key)>& ready) const;
  bool may_decline(const peer_queue& q, const protocol::request& r) const;

  upload_scheduler_settings s_;
  std::map<peer_key, peer_queue> peers_;
  struct copies {
    std::uint32_t uploaded = 0;
    std::uint32_t under_way = 0;
  };
  copies& copies_of(const protocol::request& r);
  std::map<protocol::content_id, std::vector<copies>> upload_counts_;  // per chunk
  std::uint64_t turns_ = 0;
};

}  // namespace peerlab::peer

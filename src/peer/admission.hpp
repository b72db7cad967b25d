#pragma once
// Admission: who may hold one of the node's places for connections that have
// not said hello yet. A connection there costs us a socket and a deadline
// and proves nothing; without a policy, whoever re-opens idle connections
// fastest keeps the place full and honest newcomers are turned away.
//
// The policy, which bites only when the pool of pending handshakes is full
// (so 50 classroom nodes on one address mesh without ever meeting it):
//  - a newcomer evicts the oldest pending connection of the address that
//    holds the most of them (the newcomer counted in): a flood from one
//    address churns only its own connections, and everyone else's newest
//    connection stays long enough to say hello (a round trip);
//  - an address opening more than `rate_per_second` connections (after a
//    burst of `burst`) gets no eviction: its newcomer is refused instead.
//
// Pure bookkeeping with the clock passed in; the node owns the sockets and
// closes what this says to close. Handle is whatever names a connection
// there (a shared_ptr in the node, an int in the unit tests).

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "protocol/endpoint.hpp"

namespace peerlab::peer {

namespace admission_policy {

using clock = std::chrono::steady_clock;

// A pending connection as the policy sees it: its address (port cleared)
// and when it arrived.
struct pending_view {
  protocol::endpoint ip;
  clock::time_point since;
};

// The index in `pending` to evict for a newcomer from `newcomer_ip`: the
// oldest connection of the address holding the most (newcomer included).
// nullopt only if `pending` is empty.
std::optional<std::size_t> pick_victim(std::span<const pending_view> pending,
                                       const protocol::endpoint& newcomer_ip);

// Token buckets of connections per second, one per address; addresses whose
// bucket is full again are forgotten, so the map stays small.
class handshake_rates {
 public:
  handshake_rates(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}
  // Takes a token for `ip` at `now`; false if its bucket is empty.
  bool take(const protocol::endpoint& ip, clock::time_point now);
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct bucket {
    double tokens;
    clock::time_point at;
  };
  double refill(const bucket& b, clock::time_point now) const;
  double rate_;
  double burst_;
  std::map<protocol::endpoint, bucket> buckets_;
};

protocol::endpoint ip_of(protocol::endpoint e);

}  // namespace admission_policy

template <class Handle>
class admission {
 public:
  using clock = admission_policy::clock;

  struct verdict {
    bool admitted = false;
    std::optional<Handle> evicted;  // to close: its place went to the newcomer
    const char* refusal = nullptr;  // why the newcomer is refused
  };

  admission(std::size_t max_pending, double rate_per_second, double burst)
      : max_pending_(max_pending), rates_(rate_per_second, burst) {}

  // An inbound connection from `remote` arrived at `now`.
  verdict admit(Handle handle, const protocol::endpoint& remote, clock::time_point now) {
    const auto ip = admission_policy::ip_of(remote);
    const bool within_rate = rates_.take(ip, now);
    verdict v;
    if (max_pending_ == 0) {
      v.refusal = "too many connections in their handshake";
      return v;
    }
    if (views_.size() >= max_pending_) {
      if (!within_rate) {
        v.refusal = "too many new connections per second from this address";
        return v;
      }
      const auto victim = *admission_policy::pick_victim(views_, ip);
      v.evicted = std::move(handles_[victim]);
      handles_.erase(handles_.begin() + static_cast<std::ptrdiff_t>(victim));
      views_.erase(views_.begin() + static_cast<std::ptrdiff_t>(victim));
    }
    handles_.push_back(std::move(handle));
    views_.push_back({ip, now});
    v.admitted = true;
    return v;
  }

  // The connection said hello, or closed: its place is free.
  void finished(const Handle& handle) {
    for (std::size_t i = 0; i < handles_.size(); ++i) {
      if (handles_[i] == handle) {
        handles_.erase(handles_.begin() + static_cast<std::ptrdiff_t>(i));
        views_.erase(views_.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      }
    }
  }

  std::size_t pending() const { return handles_.size(); }

 private:
  std::size_t max_pending_;
  admission_policy::handshake_rates rates_;
  // Side by side, in arrival order; at most max_pending_ (64): scans are cheap.
  std::vector<Handle> handles_;
  std::vector<admission_policy::pending_view> views_;
};

}  // namespace peerlab::peer

#pragma once
// Discovery state: every address where we believe a node listens, and when to
// (re)dial it. Pure bookkeeping: the caller passes the time, so the backoff
// logic is unit-tested without clocks or sockets.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "peer/settings.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::peer {

class peer_table {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  enum class origin { configured, learned };  // --peer, or heard from another node
  enum class state { idle, dialing, connected, self };

  struct entry {
    origin source = origin::learned;
    state current = state::idle;
    int failures = 0;  // consecutive failed dials
    time_point next_attempt{};
  };

  explicit peer_table(discovery_settings settings) : settings_(settings) {}

  // Remembers an address; false if it was known already or the table is full.
  bool add(const protocol::endpoint& address, origin source, time_point now);

  // Idle addresses whose backoff has expired, at most `limit`; marked dialing.
  std::vector<protocol::endpoint> take_due(time_point now, std::size_t limit);
  // When the next idle address comes due (it may be now); nullopt if none is idle.
  std::optional<time_point> next_due() const;

  void dial_failed(const protocol::endpoint& address, time_point now);
  void connected(const protocol::endpoint& address, time_point now);
  void disconnected(const protocol::endpoint& address, time_point now);
  // The address turned out to be our own: never dial it again.
  void mark_self(const protocol::endpoint& address);
  // Drops an address nobody is connected to or dialing (a host name now
  // resolves elsewhere); false if it is in use or unknown.
  bool forget(const protocol::endpoint& address);

  std::size_t size() const { return entries_.size(); }
  const std::map<protocol::endpoint, entry>& entries() const { return entries_; }

 private:
  entry& upsert(const protocol::endpoint& address, origin source, time_point now);
  bool make_room();

  discovery_settings settings_;
  std::map<protocol::endpoint, entry> entries_;
};

}  // namespace peerlab::peer

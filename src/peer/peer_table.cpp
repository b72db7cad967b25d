#include "peer/peer_table.hpp"

#include <algorithm>

namespace peerlab::peer {

bool peer_table::add(const protocol::endpoint& address, origin source, time_point now) {
  if (auto it = entries_.find(address); it != entries_.end()) {
    if (source == origin::configured) it->second.source = origin::configured;
    return false;
  }
  if (entries_.size() >= settings_.max_known_peers && !make_room()) return false;
  entries_.emplace(address, entry{source, state::idle, 0, now});
  return true;
}

// Evicts the learned, idle address with the most failures, if there is one.
bool peer_table::make_room() {
  auto worst = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const auto& e = it->second;
    if (e.source != origin::learned || e.current == state::connected ||
        e.current == state::dialing) {
      continue;
    }
    if (worst == entries_.end() || e.failures > worst->second.failures) worst = it;
  }
  if (worst == entries_.end() || worst->second.failures == 0) return false;
  entries_.erase(worst);
  return true;
}

std::vector<protocol::endpoint> peer_table::take_due(time_point now, std::size_t limit) {
  std::vector<protocol::endpoint> due;
  for (auto& [address, e] : entries_) {
    if (due.size() >= limit) break;
    if (e.current == state::idle && e.next_attempt <= now) {
      e.current = state::dialing;
      due.push_back(address);
    }
  }
  return due;
}

std::optional<peer_table::time_point> peer_table::next_due() const {
  std::optional<time_point> next;
  for (const auto& [address, e] : entries_) {
    if (e.current == state::idle && (!next || e.next_attempt < *next)) next = e.next_attempt;
  }
  return next;
}

void peer_table::dial_failed(const protocol::endpoint& address, time_point now) {
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.current == state::self) return;
  auto& e = it->second;
  ++e.failures;
  if (e.source == origin::learned && e.failures >= settings_.max_failures_before_forgetting) {
    entries_.erase(it);
    return;
  }
  // Exponential backoff: initial, 2×, 4×, … capped.
  auto delay = settings_.initial_backoff;
  for (int i = 1; i < e.failures && delay < settings_.max_backoff; ++i)
    delay *= 2;
  e.next_attempt = now + std::min(delay, settings_.max_backoff);
  e.current = state::idle;
}

void peer_table::connected(const protocol::endpoint& address, time_point now) {
  auto& e = upsert(address, origin::learned, now);
  e.current = state::connected;
  e.failures = 0;
}

void peer_table::disconnected(const protocol::endpoint& address, time_point now) {
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.current == state::self) return;
  it->second.current = state::idle;
  it->second.next_attempt = now + settings_.initial_backoff;
}

void peer_table::mark_self(const protocol::endpoint& address) {
  upsert(address, origin::learned, {}).current = state::self;
}

bool peer_table::forget(const protocol::endpoint& address) {
  const auto it = entries_.find(address);
  if (it == entries_.end() || it->second.current != state::idle) return false;
  entries_.erase(it);
  return true;
}

peer_table::entry& peer_table::upsert(const protocol::endpoint& address, origin source,
                                      time_point now) {
  auto [it, inserted] = entries_.try_emplace(address, entry{source, state::idle, 0, now});
  (void)inserted;
  return it->second;
}

}  // namespace peerlab::peer

#include "peer/upload_scheduler.hpp"

#include <algorithm>

namespace peerlab::peer {

bool upload_scheduler::enqueue(peer_key peer, const protocol::request& r, clock::time_point now) {
  auto& q = peers_[peer];
  if (q.requests.size() >= s_.max_queued) return false;
  q.requests.push_back({r, now});
  return true;
}

bool upload_scheduler::cancel(peer_key peer, const protocol::request& r) {
  const auto it = peers_.find(peer);
  if (it == peers_.end()) return false;
  return std::erase_if(it->second.requests, [&](const queued_request& q) {
           return q.request.id == r.id && q.request.index == r.index;
         }) > 0;
}

void upload_scheduler::remove(peer_key peer) {
  peers_.erase(peer);
}

std::size_t upload_scheduler::queued(peer_key peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.requests.size();
}

std::size_t upload_scheduler::times_uploaded(const protocol::request& r) const {
  const auto it = upload_counts_.find(r.id);
  if (it == upload_counts_.end() || r.index >= it->second.size()) return 0;
  const auto& c = it->second[r.index];
  return c.uploaded + c.under_way;
}

auto upload_scheduler::copies_of(const protocol::request& r) -> copies& {
  auto& counts = upload_counts_[r.id];
  if (counts.size() <= r.index) counts.resize(r.index + 1);
  return counts[r.index];
}

bool upload_scheduler::may_decline(const peer_queue& q, const protocol::request& r) const {
  return times_uploaded(r) > 0 && !q.declined.contains({r.id, r.index});
}

bool upload_scheduler::waits_for_fresh_chunk(peer_key except,
                                             const std::function<bool(peer_key)>& ready) const {
  for (const auto& [key, q] : peers_) {
    if (key == except || !ready(key)) continue;
    for (const auto& queued : q.requests) {
      if (times_uploaded(queued.request) == 0) return true;
    }
  }
  return false;
}

auto upload_scheduler::next(const std::function<bool(peer_key)>& ready) -> std::optional<pick> {
  // The ready peer with a queue that was served longest ago.
  peer_key chosen = 0;
  peer_queue* q = nullptr;
  for (auto& [key, candidate] : peers_) {
    if (candidate.requests.empty() || (q && candidate.turn >= q->turn) || !ready(key)) continue;
    chosen = key;
    q = &candidate;
  }
  if (!q) return std::nullopt;
  // Its request for the chunk we have sent least often.
  const auto best =
      std::min_element(q->requests.begin(), q->requests.end(), [&](const auto& a, const auto& b) {
        return times_uploaded(a.request) < times_uploaded(b.request);
      });
  const auto r = best->request;
  q->requests.erase(best);
  if (may_decline(*q, r) && waits_for_fresh_chunk(chosen, ready)) {
    q->declined.emplace(r.id, r.index);
    return pick{chosen, r, action::decline};
  }
  return pick{chosen, r, action::send};
}

void upload_scheduler::served(peer_key peer, const protocol::request& r) {
  auto& q = peers_[peer];
  q.turn = ++turns_;
  q.declined.erase({r.id, r.index});
  ++copies_of(r).under_way;
}

void upload_scheduler::sent(const protocol::request& r, bool left) {
  auto& c = copies_of(r);
  if (c.under_way > 0) --c.under_way;
  if (left) ++c.uploaded;
}

void upload_scheduler::delivered(const protocol::request& r) {
  ++copies_of(r).uploaded;
}

auto upload_scheduler::take_stale(clock::time_point now)
    -> std::vector<std::pair<peer_key, protocol::request>> {
  std::vector<std::pair<peer_key, protocol::request>> out;
  for (auto& [key, q] : peers_) {
    std::erase_if(q.requests, [&](const queued_request& queued) {
      if (now - queued.since < s_.stale_after || !may_decline(q, queued.request)) return false;
      q.declined.emplace(queued.request.id, queued.request.index);
      out.emplace_back(key, queued.request);
      return true;
    });
  }
  return out;
}

auto upload_scheduler::next_stale() const -> std::optional<clock::time_point> {
  std::optional<clock::time_point> first;
  for (const auto& [key, q] : peers_) {
    for (const auto& queued : q.requests) {
      if (!may_decline(q, queued.request)) continue;
      const auto when = queued.since + s_.stale_after;
      if (!first || when < *first) first = when;
    }
  }
  return first;
}

}  // namespace peerlab::peer

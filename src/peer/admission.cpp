#include "peer/admission.hpp"

#include <algorithm>

namespace peerlab::peer::admission_policy {

protocol::endpoint ip_of(protocol::endpoint e) {
  e.port = 0;
  return e;
}

std::optional<std::size_t> pick_victim(std::span<const pending_view> pending,
                                       const protocol::endpoint& newcomer_ip) {
  std::map<protocol::endpoint, std::size_t> held;
  for (const auto& p : pending)
    ++held[p.ip];
  ++held[newcomer_ip];
  std::size_t most = 0;
  for (const auto& [ip, n] : held)
    most = std::max(most, n);
  std::optional<std::size_t> victim;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (held[pending[i].ip] != most) continue;
    if (!victim || pending[i].since < pending[*victim].since) victim = i;
  }
  // The newcomer's address alone holds the most but has nothing pending yet
  // (a pool of one): the oldest of all goes.
  if (!victim && !pending.empty()) victim = 0;
  return victim;
}

double handshake_rates::refill(const bucket& b, clock::time_point now) const {
  const double seconds = std::chrono::duration<double>(now - b.at).count();
  return std::min(burst_, b.tokens + std::max(0.0, seconds) * rate_);
}

bool handshake_rates::take(const protocol::endpoint& ip, clock::time_point now) {
  // Forget addresses that have been quiet long enough to be full again.
  constexpr std::size_t forget_above = 1024;
  if (buckets_.size() > forget_above) {
    std::erase_if(buckets_, [&](const auto& entry) { return refill(entry.second, now) >= burst_; });
    // Still too many (a flood from many addresses): start afresh rather than grow.
    if (buckets_.size() > 4 * forget_above) buckets_.clear();
  }
  auto& b = buckets_.try_emplace(ip, bucket{burst_, now}).first->second;
  b.tokens = refill(b, now);
  b.at = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace peerlab::peer::admission_policy

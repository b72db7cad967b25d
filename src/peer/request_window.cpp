#include "peer/request_window.hpp"

#include <algorithm>
#include <cmath>

namespace peerlab::peer {

void request_window::on_delivery(std::uint64_t bytes, clock::time_point now, clock::duration rtt,
                                 bool lossy) {
  if (deliveries_.empty() && first_delivery_ == clock::time_point{}) first_delivery_ = now;
  deliveries_.emplace_back(now, bytes);
  delivered_ += bytes;
  while (now - deliveries_.front().first > s_.rate_interval) {
    delivered_ -= deliveries_.front().second;
    deliveries_.pop_front();
  }
  // A lost request is resent only after a retransmission timeout: on a path
  // that loses packets the peer needs that much more work queued meanwhile.
  const double seconds = s_.round_trips * std::chrono::duration<double>(rtt).count() +
                         (lossy ? std::chrono::duration<double>(s_.loss_slack).count() : 0.0);
  const auto wanted = static_cast<std::uint64_t>(rate(now) * seconds);
  const auto target = std::max(s_.min_bytes, wanted);
  if (target > bytes_) {
    // Grow by at most what arrived: the window can double once per round
    // trip, never jump on one early (and noisy) rate sample.
    bytes_ = std::min(target, bytes_ + bytes);
  } else {
    bytes_ -= (bytes_ - target) / 8;  // shrink gently: rates are noisy
  }
}

void request_window::on_timeout() {
  bytes_ = s_.min_bytes;
  deliveries_.clear();
  delivered_ = 0;
  first_delivery_ = {};
}

std::uint32_t request_window::requests(std::uint32_t chunk_bytes) const {
  const auto n = (bytes_ + chunk_bytes - 1) / std::max<std::uint32_t>(1, chunk_bytes);
  return static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(n, s_.min_requests, std::max(s_.min_requests, s_.max_requests)));
}

double request_window::rate(clock::time_point now) const {
  // Deliveries that have aged out since the last one do not count.
  std::uint64_t total = delivered_;
  for (auto it = deliveries_.begin(); it != deliveries_.end() && now - it->first > s_.rate_interval;
       ++it) {
    total -= it->second;
  }
  if (total == 0) return 0;
  // Measured over the whole interval once we have been receiving that long;
  // before that over the time since the first delivery (at least 100 ms, so
  // that the first chunk alone does not look like an infinite rate).
  const auto since_first = now - first_delivery_;
  const auto span = std::max<clock::duration>(std::min(s_.rate_interval, since_first),
                                              std::chrono::milliseconds(100));
  return static_cast<double>(total) / std::chrono::duration<double>(span).count();
}

}  // namespace peerlab::peer

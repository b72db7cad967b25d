#include "peer/download.hpp"

#include <algorithm>

namespace peerlab::peer {

const char* to_string(download_state s) {
  switch (s) {
    case download_state::manifest:
      return "manifest";
    case download_state::downloading:
      return "downloading";
    case download_state::complete:
      return "complete";
    case download_state::failed:
      break;
  }
  return "failed";
}

void download::want_only(const std::vector<bool>& wanted) {
  if (!picker_ || wanted.empty()) return;
  std::vector<bool> unwanted(wanted.size());
  for (std::size_t i = 0; i < wanted.size(); ++i)
    unwanted[i] = !wanted[i];
  picker_->set_unwanted(std::move(unwanted));
}

void download::begin(protocol::manifest m, std::size_t resumed_chunks) {
  manifest_ = std::move(m);
  name = manifest_.name;
  size = manifest_.size;
  const auto chunks = manifest_.chunk_count();
  state_ = download_state::downloading;
  picker_ = std::make_unique<piece_picker>(chunks);
  requested_.assign(chunks, 0);
  verifying_.assign(chunks, false);
  chunk_sources_.assign(chunks, "");
  resumed_ = resumed_chunks;
  fetched_ = rejected_ = 0;
  from_.clear();
  progress_ = clock::now();
  // Holders known from an earlier attempt still count (its requests were
  // all taken back when it failed).
  for (auto& [key, s] : sources_)
    picker_->add_availability(s.has);
}

void download::complete() {
  state_ = download_state::complete;
}

void download::fail(std::string why) {
  state_ = download_state::failed;
  error_ = std::move(why);
  const auto now = clock::now();
  for (auto& [key, s] : sources_) {
    while (!s.requests.empty())
      cancel_request(s, s.requests.begin()->first, now);
  }
}

void download::restart() {
  state_ = download_state::manifest;
  error_.clear();
  manifest_from.reset();
  manifest_tried.clear();
  started = clock::now();
}

void download::set_map(chunk_source& peer, chunk_set has) {
  auto [it, inserted] = sources_.try_emplace(peer.key(), &peer, chunk_set(), s_.window);
  if (!inserted && picker_) picker_->remove_availability(it->second.has);
  if (picker_) picker_->add_availability(has);
  it->second.has = std::move(has);
}

bool download::add_have(chunk_source& peer, std::uint32_t index) {
  if (index >= manifest_.chunk_count()) return false;
  auto [it, inserted] =
      sources_.try_emplace(peer.key(), &peer, chunk_set(manifest_.chunk_count()), s_.window);
  if (it->second.has.set(index) && picker_) picker_->add_availability(index);
  return true;
}

void download::remove_source(source_key peer) {
  const auto it = sources_.find(peer);
  if (it != sources_.end()) {
    for (const auto& [index, since] : it->second.requests)
      --requested_[index];
    if (picker_) picker_->remove_availability(it->second.has);
    sources_.erase(it);
  }
  manifest_tried.erase(peer);
  if (manifest_from == peer) manifest_from.reset();
}

std::size_t download::active_requests(const source& s) const {
  return s.writing + s.requests.size();
}

void download::fill(chunk_source& peer, const chunk_set& we_have, clock::time_point now) {
  if (state_ != download_state::downloading) return;
  const auto it = sources_.find(peer.key());
  if (it == sources_.end()) return;
  auto& s = it->second;
  // A chunk being verified needs no second copy, not even in the endgame; nor
  // one this peer was asked for already, or turned down a moment ago.
  std::vector<bool> not_here = verifying_;
  for (const auto& [index, since] : s.requests)
    not_here[index] = true;
  std::erase_if(s.declined_until, [&](const auto& d) { return d.second <= now; });
  for (const auto& [index, until] : s.declined_until)
    not_here[index] = true;
  const std::size_t window = s.window.requests(manifest_.chunk_size);
  std::size_t active = active_requests(s);
  while (active < window) {
    const auto next = picker_->pick(s.has, we_have, requested_, not_here);
    if (!next) break;
    const auto index = static_cast<std::uint32_t>(*next);
    if (active == 0 && s.writing == 0) {  // the clock starts with the first ask
      s.progress = now;
      s.bytes_seen = peer.bytes_received();
    }
    s.requests[index] = now;
    not_here[index] = true;
    ++requested_[index];
    ++active;
    peer.request(id_, index);
  }
}

void download::fill_all(const chunk_set& we_have, clock::time_point now) {
  for (auto& [key, s] : sources_)
    fill(*s.link, we_have, now);
}

void download::cancel_request(source& s, std::uint32_t index, clock::time_point now) {
  if (s.requests.erase(index) == 0) return;
  s.cancelled[index] = now;
  --requested_[index];
  s.link->cancel(id_, index);
}

void download::on_reject(source_key peer, std::uint32_t index, clock::time_point now) {
  const auto it = sources_.find(peer);
  if (it == sources_.end()) return;
  auto& s = it->second;
  if (s.requests.erase(index) > 0) {
    --requested_[index];
  } else if (s.cancelled.erase(index) == 0) {
    return;
  }
  // It cannot send that chunk now (it lacks it, or it is busy with chunks
  // nobody else has): ask others for this one for a while, it for others.
  // When nobody else has it, waiting long only stalls us: an uploader
  // declines a request once and serves it when asked again.
  const bool elsewhere = std::ranges::any_of(
      sources_, [&](const auto& o) { return o.first != peer && o.second.has.has(index); });
  s.declined_until[index] = now + (elsewhere ? s_.reject_backoff : s_.sole_holder_reject_backoff);
}

download::arrival download::on_chunk(source_key peer, std::uint32_t index) {
  const auto it = sources_.find(peer);
  if (it == sources_.end()) return arrival::unrequested;
  auto& s = it->second;
  if (s.requests.erase(index) > 0) {
    --requested_[index];
  } else if (s.cancelled.erase(index) == 0) {
    return arrival::unrequested;
  }
  // A late chunk (timed out, or from an attempt that failed) is as good as
  // any other if we still need it and it verifies.
  if (state_ != download_state::downloading || index >= manifest_.chunk_count() ||
      verifying_[index]) {
    return arrival::ignore;
  }
  ++writing_;
  ++s.writing;
  verifying_[index] = true;
  return arrival::verify;
}

void download::on_written(source_key peer, const std::string& from, std::uint32_t index,
                          clock::time_point now) {
  --writing_;
  verifying_[index] = false;
  const auto length = manifest_.chunk_length(index);
  const auto it = sources_.find(peer);
  if (it != sources_.end()) {
    auto& s = it->second;
    --s.writing;
    s.progress = now;
    s.bytes_seen = s.link->bytes_received();
    const auto path = s.link->path();
    s.window.on_delivery(length, now, path.round_trip, path.retransmits > 0);
  }
  progress_ = now;
  ++fetched_;
  ++from_[from];
  chunk_sources_[index] = from;
  recent_.emplace_back(now, length);
  // Endgame: whoever else was asked for this chunk need not send it.
  for (auto& [key, other] : sources_)
    cancel_request(other, index, now);
}

void download::on_not_written(source_key peer, std::uint32_t index, bool corrupt) {
  --writing_;
  verifying_[index] = false;
  if (corrupt) ++rejected_;
  if (const auto it = sources_.find(peer); it != sources_.end()) --it->second.writing;
}

void download::check_timeouts(clock::time_point now) {
  for (auto& [key, s] : sources_) {
    // Cancelled requests are remembered for a while, so that their chunks
    // (which may have crossed our cancel) are no violation.
    std::erase_if(s.cancelled,
                  [&](const auto& c) { return now - c.second > 2 * s_.request_timeout; });
    if (active_requests(s) == s.writing) continue;  // nothing asked of it
    // Part of a chunk arriving is progress too (a big chunk on a slow link
    // takes long); a few bytes, such as a keepalive, are not.
    if (const auto bytes = s.link->bytes_received(); bytes - s.bytes_seen >= 16 * 1024) {
      s.progress = now;
      s.bytes_seen = bytes;
      progress_ = now;
    }
    // Progress, not age: a request waits behind those sent before it, so it
    // is the peer's silence that counts, plus one chunk's time at its rate.
    const double rate = s.window.rate(now);
    const auto chunk_time = rate > 0
                                ? std::chrono::duration_cast<clock::duration>(
                                      std::chrono::duration<double>(manifest_.chunk_size / rate))
                                : clock::duration::zero();
    if (now - s.progress < s_.request_timeout + chunk_time) continue;
    while (!s.requests.empty())
      cancel_request(s, s.requests.begin()->first, now);
    s.window.on_timeout();
    s.progress = now;
  }
  while (!recent_.empty() && now - recent_.front().first > std::chrono::seconds(5))
    recent_.pop_front();
}

download::progress download::stats(clock::time_point now) const {
  std::uint64_t recent_bytes = 0;
  for (const auto& [when, bytes] : recent_)
    recent_bytes += bytes;
  double rate = 0;
  if (!recent_.empty()) {
    const double window =
        std::max(1.0, std::chrono::duration<double>(now - recent_.front().first).count());
    rate = static_cast<double>(recent_bytes) / window;
  }
  std::size_t peers = 0;
  for (const auto& [key, s] : sources_)
    peers += active_requests(s) > 0;
  return {resumed_, fetched_, rejected_, peers, rate, from_, chunk_sources_};
}

bool download::busy(std::size_t chunk) const {
  return (chunk < requested_.size() && requested_[chunk] > 0) ||
         (chunk < verifying_.size() && verifying_[chunk]);
}

}  // namespace peerlab::peer

#include "peer/memory_budget.hpp"

#include <algorithm>

namespace peerlab::peer {

memory_budget::~memory_budget() {
  for (auto* s : holders_)
    s->budget_ = nullptr;
}

bool memory_budget::try_reserve(std::size_t bytes) {
  if (bytes > capacity_ - used_) return false;
  used_ += bytes;
  return true;
}

void memory_budget::release(std::size_t bytes) {
  used_ -= std::min(bytes, used_);
}

budget_share* memory_budget::stalest(const budget_share* asking, clock::time_point now) const {
  budget_share* found = nullptr;
  for (auto* s : shares_) {
    if (s == asking || s->bytes_ <= stale_above_bytes || now - s->big_since_ < stale_after_)
      continue;
    if (!found || s->big_since_ < found->big_since_) found = s;
  }
  return found;
}

budget_share::budget_share(memory_budget* budget, std::function<void()> give_way)
    : budget_(budget), give_way_(std::move(give_way)) {
  if (!budget_) return;
  budget_->holders_.push_back(this);
  if (give_way_) budget_->shares_.push_back(this);
}

budget_share::~budget_share() {
  if (!budget_) return;
  budget_->release(bytes_);
  std::erase(budget_->shares_, this);
  std::erase(budget_->holders_, this);
}

bool budget_share::resize(std::size_t bytes, clock::time_point now) {
  if (bytes_ <= memory_budget::stale_above_bytes) big_since_ = now;
  if (!budget_) {
    bytes_ = bytes;
    return true;
  }
  if (bytes <= bytes_) {
    budget_->release(bytes_ - bytes);
    bytes_ = bytes;
    return true;
  }
  // Bounded: each round takes a holder out of the running for good.
  while (!budget_->try_reserve(bytes - bytes_)) {
    auto* stale = budget_->stalest(this, now);
    if (!stale) return false;
    const auto give_way = stale->give_way_;  // it may destroy `stale`
    stale->resize(0, now);
    if (give_way) give_way();
  }
  bytes_ = bytes;
  return true;
}

}  // namespace peerlab::peer

#include "peer/memory_budget.hpp"

namespace peerlab::peer {

bool memory_budget::try_reserve(std::size_t bytes) {
  if (bytes > capacity_ - used_) return false;
  used_ += bytes;
  return true;
}

void memory_budget::release(std::size_t bytes) {
  used_ -= bytes < used_ ? bytes : used_;
}

bool budget_share::resize(std::size_t bytes) {
  if (!budget_) {
    bytes_ = bytes;
    return true;
  }
  if (bytes > bytes_) {
    if (!budget_->try_reserve(bytes - bytes_)) return false;
  } else {
    budget_->release(bytes_ - bytes);
  }
  bytes_ = bytes;
  return true;
}

}  // namespace peerlab::peer

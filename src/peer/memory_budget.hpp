#pragma once
// A node-wide budget for input held while it is being received: frames that
// peer connections have not finished reading, and HTTP request bodies. One
// connection holding a 4 MiB frame is fine; 127 of them holding one each is
// half a gigabyte of memory an attacker chose to make us keep. Every holder
// asks the budget before it grows, and a connection the budget cannot cover
// is closed (docs/security.md states the figure).
//
// Pure bookkeeping on the network thread: no locks, no clocks.

#include <cstddef>

namespace peerlab::peer {

class memory_budget {
 public:
  explicit memory_budget(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // Takes `bytes` more if they fit; false (and nothing taken) if not.
  bool try_reserve(std::size_t bytes);
  void release(std::size_t bytes);

  std::size_t capacity_bytes() const { return capacity_; }
  std::size_t used_bytes() const { return used_; }

 private:
  std::size_t capacity_;
  std::size_t used_ = 0;
};

// What one holder (a connection) has of the budget, given back when it goes.
// Without a budget every resize succeeds.
class budget_share {
 public:
  budget_share() = default;
  explicit budget_share(memory_budget* budget) : budget_(budget) {}
  budget_share(const budget_share&) = delete;
  budget_share& operator=(const budget_share&) = delete;
  ~budget_share() { resize(0); }

  // Makes the share `bytes`: shrinking always succeeds; growing succeeds only
  // if the budget has room, else the share is left as it was.
  bool resize(std::size_t bytes);
  std::size_t bytes() const { return bytes_; }

 private:
  memory_budget* budget_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace peerlab::peer

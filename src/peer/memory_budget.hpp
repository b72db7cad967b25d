#pragma once
// A node-wide budget for input held while it is being received: frames that
// peer connections have not finished reading, and HTTP request bodies. One
// connection holding a 4 MiB frame is fine; 127 of them holding one each is
// half a gigabyte of memory an attacker chose to make us keep. Every holder
// asks the budget before it grows, and a connection the budget cannot cover
// is closed (docs/security.md states the figure).
//
// So that a few connections sitting on almost complete frames cannot shut
// everyone else out, a holder that may give way (a peer connection) and
// has grown without finishing anything for longer than `stale_after` is
// closed to make room before a newcomer is refused: honest frames complete
// in well under that, a hoarder's never do.
//
// Pure bookkeeping on the network thread, with the clock passed in.

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace peerlab::peer {

class budget_share;

class memory_budget {
 public:
  using clock = std::chrono::steady_clock;

  // Only a holder of more than this (a large frame, not a connection's
  // small everyday buffer) is ever asked to give way.
  static constexpr std::size_t stale_above_bytes = 64 * 1024;

  explicit memory_budget(std::size_t capacity_bytes,
                         clock::duration stale_after = std::chrono::seconds(5))
      : capacity_(capacity_bytes), stale_after_(stale_after) {}
  memory_budget(const memory_budget&) = delete;
  memory_budget& operator=(const memory_budget&) = delete;
  // Shares may outlive the budget (a connection held by a coroutine frame
  // that is destroyed with the io_context, after the node): they are let go.
  ~memory_budget();

  // Takes `bytes` more if they fit; false (and nothing taken) if not.
  bool try_reserve(std::size_t bytes);
  void release(std::size_t bytes);

  std::size_t capacity_bytes() const { return capacity_; }
  std::size_t used_bytes() const { return used_; }

 private:
  friend class budget_share;
  // The share, other than `asking`, that may give way and has held a large
  // buffer the longest, if that is longer than stale_after_.
  budget_share* stalest(const budget_share* asking, clock::time_point now) const;

  std::size_t capacity_;
  std::size_t used_ = 0;
  clock::duration stale_after_;
  std::vector<budget_share*> shares_;   // those that may give way
  std::vector<budget_share*> holders_;  // every share, to let go of at the end
};

// What one holder (a connection) has of the budget, given back when it goes.
// Without a budget every resize succeeds. `give_way`, if given, closes the
// holder when the budget needs its share for someone else.
class budget_share {
 public:
  using clock = memory_budget::clock;

  budget_share() = default;
  explicit budget_share(memory_budget* budget, std::function<void()> give_way = {});
  budget_share(const budget_share&) = delete;
  budget_share& operator=(const budget_share&) = delete;
  ~budget_share();

  // Makes the share `bytes`: shrinking always succeeds; growing succeeds if
  // the budget has room, or once stale holders have given way; else the
  // share is left as it was.
  bool resize(std::size_t bytes, clock::time_point now);
  std::size_t bytes() const { return bytes_; }

 private:
  friend class memory_budget;
  memory_budget* budget_ = nullptr;
  std::function<void()> give_way_;
  std::size_t bytes_ = 0;
  clock::time_point big_since_{};  // since when it holds more than stale_above_bytes
};

}  // namespace peerlab::peer

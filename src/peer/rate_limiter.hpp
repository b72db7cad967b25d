#pragma once
// Bandwidth limits (--up-limit, --down-limit): a token bucket that decides how
// long a transfer must wait, and a limiter that does the waiting on the node's
// io_context. One limiter per direction is shared by every connection, so the
// limit holds for the node as a whole, not per peer.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "peer/rate.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

// The bytes allowed through per second, refilled continuously, saved up to
// `burst` while idle. A take may overdraw the balance (debt): one chunk larger
// than the burst still goes through, and whoever comes next pays for it by
// waiting. Pure: the caller passes the time, so tests can simulate hours.
class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  // Small bursts keep short-term rates close to the limit; 64 KiB at least so
  // that one read or one chunk frame is not split into many tiny waits.
  static std::uint64_t default_burst(std::uint64_t bytes_per_second);

  // 0 bytes per second = unlimited. Without a burst: default_burst(rate).
  explicit token_bucket(std::uint64_t bytes_per_second,
                        std::optional<std::uint64_t> burst_bytes = std::nullopt);

  // Consumes `bytes` and returns how long to wait before moving them: zero
  // when unlimited or when the balance covers them.
  std::chrono::nanoseconds take(std::size_t bytes, clock::time_point now);

  // Returns bytes that were taken but will never move (their wait was
  // cancelled), so that they delay nobody after.
  void give_back(std::size_t bytes, clock::time_point now);

  // The debt (or savings) carries over, in bytes, to the new rate.
  void set_rate(std::uint64_t bytes_per_second, clock::time_point now);

  std::uint64_t rate() const { return rate_; }
  std::uint64_t burst() const { return burst_; }
  bool unlimited() const { return rate_ == 0; }

 private:
  void refill(clock::time_point now);

  std::uint64_t rate_;
  std::optional<std::uint64_t> configured_burst_;
  std::uint64_t burst_;
  // Bytes that may go without waiting; negative while in debt. A double keeps
  // fractions of a byte, so many small takes still add up to the exact rate.
  double balance_ = 0;
  std::optional<clock::time_point> last_refill_;
};

// Waits as the bucket says before bytes move. Everything runs on the node's
// one io_context thread, so there are no locks; concurrent waiters are served
// in the order they took their bytes (each one waits for the debt in front).
class rate_limiter {
 public:
  rate_limiter(asio::any_io_executor executor, std::uint64_t bytes_per_second);
  ~rate_limiter();
  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  // Returns once `bytes` may be sent (or, for reads, once they may be read);
  // at once when unlimited or stopped. Also returns early if the awaiting
  // coroutine is cancelled (asio per-operation cancellation, e.g. a
  // cancellation_signal bound with bind_cancellation_slot at co_spawn): the
  // bytes then count as never sent, and later acquires do not pay for them.
  asio::awaitable<void> acquire(std::size_t bytes);

  // Also wakes current waiters, so a raised (or removed) limit applies to them
  // too instead of only to later transfers.
  void set_rate(std::uint64_t bytes_per_second);
  std::uint64_t rate() const;

  // Releases every waiter now and lets all later acquires through: for
  // shutdown, so that io_context::run() is not held up by a long wait.
  void stop();

 private:
  struct state;
  // Shared with suspended acquire() calls, which may outlive the limiter when
  // a node is destroyed before its io_context.
  std::shared_ptr<state> state_;
};

}  // namespace peerlab::peer

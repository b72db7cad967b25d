#include "peer/rate_limiter.hpp"

#include <algorithm>
#include <asio/cancellation_state.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <list>
#include <string>

namespace peerlab::peer {

namespace {

using clock = std::chrono::steady_clock;

// Longer waits only come from absurd requests (a GiB at 1 B/s); capping keeps
// the conversion to nanoseconds defined. It is still finite, and set_rate()
// wakes such a waiter anyway.
constexpr double max_wait_seconds = 1e9;

std::chrono::nanoseconds to_wait(double seconds) {
  return std::chrono::ceil<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::min(seconds, max_wait_seconds)));
}

}  // namespace

// ---- token_bucket ----

std::uint64_t token_bucket::default_burst(std::uint64_t bytes_per_second) {
  return std::max<std::uint64_t>(bytes_per_second / 20, 64 * 1024);
}

// A new bucket starts empty, not full: the limit then holds from the first
// byte (N bytes through a fresh limiter take N / rate). A burst is saved up
// only by being idle.
token_bucket::token_bucket(std::uint64_t bytes_per_second, std::optional<std::uint64_t> burst_bytes)
    : rate_(bytes_per_second),
      configured_burst_(burst_bytes),
      burst_(burst_bytes.value_or(default_burst(bytes_per_second))) {}

void token_bucket::refill(clock::time_point now) {
  // Times from the past (callers that read the clock earlier) add nothing.
  if (last_refill_ && now <= *last_refill_) return;
  if (last_refill_) {
    const double seconds = std::chrono::duration<double>(now - *last_refill_).count();
    balance_ =
        std::min(balance_ + seconds * static_cast<double>(rate_), static_cast<double>(burst_));
  }
  last_refill_ = now;
}

std::chrono::nanoseconds token_bucket::take(std::size_t bytes, clock::time_point now) {
  if (rate_ == 0 || bytes == 0) return std::chrono::nanoseconds::zero();
  refill(now);
  balance_ -= static_cast<double>(bytes);
  if (balance_ >= 0) return std::chrono::nanoseconds::zero();
  // Wait until the refill has paid off the debt, this take included: then
  // the bytes moved never get ahead of rate × time (plus the saved burst).
  return to_wait(-balance_ / static_cast<double>(rate_));
}

void token_bucket::give_back(std::size_t bytes, clock::time_point now) {
  if (rate_ == 0) return;
  refill(now);
  balance_ = std::min(balance_ + static_cast<double>(bytes), static_cast<double>(burst_));
}

void token_bucket::set_rate(std::uint64_t bytes_per_second, clock::time_point now) {
  refill(now);                   // settle what the old rate earned until now
  if (rate_ == 0) balance_ = 0;  // a limit switched on starts empty, like a new bucket
  rate_ = bytes_per_second;
  burst_ = configured_burst_.value_or(default_burst(bytes_per_second));
  balance_ = std::min(balance_, static_cast<double>(burst_));
}

// ---- rate_limiter ----

struct rate_limiter::state {
  state(asio::any_io_executor ex, std::uint64_t bytes_per_second)
      : executor(std::move(ex)), bucket(bytes_per_second) {}

  asio::any_io_executor executor;
  token_bucket bucket;
  std::list<asio::steady_timer*> sleepers;  // woken by set_rate() and stop()
  bool stopped = false;

  void wake_sleepers() {
    for (auto* timer : sleepers)
      timer->cancel();
  }
};

namespace {

// Takes a sleeping acquire() off the list however its coroutine ends.
struct sleeper_entry {
  std::list<asio::steady_timer*>& list;
  std::list<asio::steady_timer*>::iterator it;
  ~sleeper_entry() { list.erase(it); }
};

}  // namespace

rate_limiter::rate_limiter(asio::any_io_executor executor, std::uint64_t bytes_per_second)
    : state_(std::make_shared<state>(std::move(executor), bytes_per_second)) {}

// Sleepers go now instead of after their full wait: their connections are
// being torn down with the node.
rate_limiter::~rate_limiter() {
  stop();
}

void rate_limiter::stop() {
  state_->stopped = true;
  state_->wake_sleepers();
}

asio::awaitable<void> rate_limiter::acquire(std::size_t bytes) {
  // Only `s` is used after suspending: `this` may be gone by then.
  const std::shared_ptr<state> s = state_;
  // A coroutine already cancelled would throw at its next async wait; it is
  // not going to send anything anyway.
  const asio::cancellation_state cancellation = co_await asio::this_coro::cancellation_state;
  if (s->stopped || cancellation.cancelled() != asio::cancellation_type::none) co_return;
  const auto start = clock::now();
  const auto wait = s->bucket.take(bytes, start);
  if (wait <= std::chrono::nanoseconds::zero()) co_return;

  asio::steady_timer timer(s->executor);
  s->sleepers.push_front(&timer);
  const sleeper_entry entry{s->sleepers, s->sleepers.begin()};
  auto deadline = start + std::chrono::duration_cast<clock::duration>(wait);
  auto rate = s->bucket.rate();
  while (true) {
    timer.expires_at(deadline);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec || s->stopped) co_return;
    const auto now = clock::now();
    if (cancellation.cancelled() != asio::cancellation_type::none) {
      s->bucket.give_back(bytes, now);
      co_return;
    }
    // set_rate() woke us: what is left of our debt drains at the new rate.
    const auto new_rate = s->bucket.rate();
    if (new_rate == 0 || deadline <= now) co_return;
    const double left_seconds = std::chrono::duration<double>(deadline - now).count();
    deadline = now + std::chrono::duration_cast<clock::duration>(to_wait(
                         left_seconds * static_cast<double>(rate) / static_cast<double>(new_rate)));
    rate = new_rate;
  }
}

void rate_limiter::set_rate(std::uint64_t bytes_per_second) {
  if (bytes_per_second == state_->bucket.rate()) return;
  state_->bucket.set_rate(bytes_per_second, clock::now());
  state_->wake_sleepers();
}

std::uint64_t rate_limiter::rate() const {
  return state_->bucket.rate();
}

}  // namespace peerlab::peer

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

struct rate_unit {
  std::string_view suffix;
  std::uint64_t bytes;
};

constexpr rate_unit rate_units[] = {
    {"", 1},
    {"B", 1},
    {"KiB", 1ULL << 10},
    {"MiB", 1ULL << 20},
    {"GiB", 1ULL << 30},
    {"KB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
};

constexpr std::uint64_t max_rate = 1ULL << 63;
// Digits after the point beyond a nanobyte cannot change the rounded result,
// and nine keep fraction × unit well inside 64 bits.
constexpr int max_fraction_digits = 9;
// Longer waits only come from absurd requests (a GiB at 1 B/s); capping keeps
// the conversion to nanoseconds defined. It is still finite, and set_rate()
// wakes such a waiter anyway.
constexpr double max_wait_seconds = 1e9;

protocol::error rate_error(std::string_view text, std::string_view why) {
  return {"'" + std::string(text) + "' is not a rate: " + std::string(why)};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::chrono::nanoseconds to_wait(double seconds) {
  return std::chrono::ceil<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::min(seconds, max_wait_seconds)));
}

}  // namespace

protocol::result<std::uint64_t> parse_rate(std::string_view text) {
  constexpr std::string_view examples = "use e.g. 500KiB, 8MiB, 1GiB or 0 for unlimited";
  if (text.empty()) return protocol::error{"the rate is empty: " + std::string(examples)};
  if (text.front() == '-')
    return rate_error(text, "a rate cannot be negative; use 0 for unlimited");

  std::size_t i = 0;
  std::uint64_t whole = 0;
  bool nonzero = false;  // "0.0000000001GiB" is not "0" (unlimited)
  bool too_large = false;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    nonzero = nonzero || d != 0;
    if (whole > (max_rate - d) / 10) too_large = true;
    if (!too_large) whole = whole * 10 + d;
  }
  if (i == 0) return rate_error(text, examples);

  std::uint64_t fraction = 0;
  std::uint64_t fraction_scale = 1;
  bool has_fraction = false;
  if (i < text.size() && text[i] == '.') {
    has_fraction = true;
    const std::size_t first = ++i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      nonzero = nonzero || text[i] != '0';
      if (i - first < max_fraction_digits) {
        fraction = fraction * 10 + static_cast<std::uint64_t>(text[i] - '0');
        fraction_scale *= 10;
      }
    }
    if (i == first) return rate_error(text, examples);
  }

  const auto unit = std::find_if(std::begin(rate_units), std::end(rate_units),
                                 [&](const rate_unit& u) { return u.suffix == text.substr(i); });
  if (unit == std::end(rate_units)) return rate_error(text, examples);
  if (has_fraction && unit->bytes == 1)
    return rate_error(text, "bytes per second are whole; use e.g. 1.5KiB for fractions");

  const auto too_large_error = protocol::error{"'" + std::string(text) +
                                               "' is too large a rate: at most 2^63 bytes per "
                                               "second (8589934592GiB)"};
  if (too_large || whole > max_rate / unit->bytes) return too_large_error;
  // Rounded to the nearest byte; fraction × unit < 10^9 × 2^30 < 2^64.
  const std::uint64_t fraction_bytes =
      (fraction * unit->bytes + fraction_scale / 2) / fraction_scale;
  const std::uint64_t bytes = whole * unit->bytes;
  if (fraction_bytes > max_rate - bytes) return too_large_error;
  if (bytes + fraction_bytes == 0 && nonzero)
    return rate_error(text, "it is less than one byte per second; use 0 for unlimited");
  return bytes + fraction_bytes;
}

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

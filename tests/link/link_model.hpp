// One direction of an emulated link, as a pure model: a frame offered at
// time `now` waits in a FIFO bottleneck queue (tail drop when full), is
// serialised onto the wire at the link's rate, then travels a fixed one-way
// delay; some frames are lost on the way, at random but repeatably (seeded).
// No clock and no I/O here: the caller passes "now" in, so unit tests drive
// it with an injected clock and link_emulator.cpp with CLOCK_MONOTONIC.
//
// Serialisation makes release times non-decreasing, so one FIFO holds every
// frame from arrival to delivery: no priority queue is needed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peerlab::link {

using nanoseconds = std::chrono::nanoseconds;
using frame_bytes = std::vector<std::byte>;

struct direction_settings {
  std::uint64_t rate_bits_per_s = 0;     // 0: no serialisation limit (and so no queue)
  std::uint64_t queue_limit_bytes = 0;   // bytes waiting to be serialised; 0: no limit
  std::uint64_t queue_limit_frames = 0;  // the same in frames; 0: no limit
  nanoseconds delay{0};                  // one way, after serialisation
  double loss_probability = 0;           // per frame, on the wire (it still uses the rate)
  std::uint64_t seed = 1;
  // A safety net, not a link property: what one direction may hold at most
  // (queue + frames on the wire), so a rate-less link with a long delay
  // cannot take all memory.
  std::uint64_t max_held_bytes = 512ull << 20;
};

struct direction_counters {
  std::uint64_t frames_forwarded = 0;
  std::uint64_t bytes_forwarded = 0;
  std::uint64_t frames_dropped_queue = 0;
  std::uint64_t bytes_dropped_queue = 0;
  std::uint64_t frames_dropped_loss = 0;
  std::uint64_t bytes_dropped_loss = 0;
  std::uint64_t peak_queue_bytes = 0;  // the longest backlog seen, in bytes
};

enum class verdict { queued, dropped_queue, dropped_loss };

class one_way_link {
 public:
  explicit one_way_link(direction_settings settings)
      : settings_(settings), random_(settings.seed) {}

  // A frame arrives at `now` (calls must not go back in time).
  verdict offer(nanoseconds now, frame_bytes frame) {
    forget_serialised(now);
    const std::uint64_t size = frame.size();
    const bool queue_full =
        settings_.rate_bits_per_s != 0 &&
        ((settings_.queue_limit_bytes != 0 &&
          backlog_bytes_ + size > settings_.queue_limit_bytes) ||
         (settings_.queue_limit_frames != 0 && backlog_.size() >= settings_.queue_limit_frames));
    if (queue_full || held_bytes_ + size > settings_.max_held_bytes) {
      ++counters_.frames_dropped_queue;
      counters_.bytes_dropped_queue += size;
      return verdict::dropped_queue;
    }
    const nanoseconds on_wire_at = serialise(now, size);
    if (settings_.loss_probability > 0 && uniform() < settings_.loss_probability) {
      ++counters_.frames_dropped_loss;
      counters_.bytes_dropped_loss += size;
      return verdict::dropped_loss;
    }
    held_bytes_ += size;
    line_.push_back({on_wire_at + settings_.delay, std::move(frame)});
    return verdict::queued;
  }

  // When the next frame is due, if one is held.
  std::optional<nanoseconds> next_release() const {
    if (line_.empty()) return std::nullopt;
    return line_.front().release;
  }

  // Hands every frame due at `now`, in order, to deliver(frame_bytes&&); at
  // most `max_frames` of them. Returns how many.
  template <class Deliver>
  std::size_t release_due(nanoseconds now, Deliver&& deliver, std::size_t max_frames = SIZE_MAX) {
    std::size_t released = 0;
    while (released < max_frames && !line_.empty() && line_.front().release <= now) {
      frame_bytes frame = std::move(line_.front().bytes);
      line_.pop_front();
      held_bytes_ -= frame.size();
      ++counters_.frames_forwarded;
      counters_.bytes_forwarded += frame.size();
      ++released;
      deliver(std::move(frame));
    }
    return released;
  }

  // Bytes waiting to be serialised at `now` (the frame being sent included).
  std::uint64_t queued_bytes(nanoseconds now) {
    forget_serialised(now);
    return backlog_bytes_;
  }

  std::size_t held_frames() const { return line_.size(); }
  const direction_counters& counters() const { return counters_; }
  const direction_settings& settings() const { return settings_; }

 private:
  struct on_the_way {
    nanoseconds release;
    frame_bytes bytes;
  };
  struct waiting {
    nanoseconds serialised_at;
    std::uint64_t bytes;
  };

  // Frames whose last bit left by `now` no longer take room in the queue.
  void forget_serialised(nanoseconds now) {
    while (!backlog_.empty() && backlog_.front().serialised_at <= now) {
      backlog_bytes_ -= backlog_.front().bytes;
      backlog_.pop_front();
    }
  }

  // When a frame of `size` bytes, arriving at `now`, has its last bit on the
  // wire: the serialiser is a token bucket one frame deep (no bursts).
  nanoseconds serialise(nanoseconds now, std::uint64_t size) {
    if (settings_.rate_bits_per_s == 0) return now;
    if (busy_until_ < now) {
      busy_until_ = now;
      carry_ = 0;  // an idle link starts afresh
    }
    // ns = bits * 1e9 / rate, the remainder carried so rounding never drifts
    // (no overflow: a frame is < 2^20 bytes and a rate < 2^40 bit/s).
    const std::uint64_t numerator = size * 8u * 1'000'000'000u + carry_;
    busy_until_ += nanoseconds(static_cast<std::int64_t>(numerator / settings_.rate_bits_per_s));
    carry_ = numerator % settings_.rate_bits_per_s;
    backlog_.push_back({busy_until_, size});
    backlog_bytes_ += size;
    if (backlog_bytes_ > counters_.peak_queue_bytes) counters_.peak_queue_bytes = backlog_bytes_;
    return busy_until_;
  }

  // [0, 1) from the top 53 bits: the same sequence with every standard library.
  double uniform() { return static_cast<double>(random_() >> 11) * 0x1.0p-53; }

  direction_settings settings_;
  std::mt19937_64 random_;
  std::deque<on_the_way> line_;
  std::deque<waiting> backlog_;
  std::uint64_t backlog_bytes_ = 0;
  std::uint64_t held_bytes_ = 0;
  nanoseconds busy_until_{0};
  std::uint64_t carry_ = 0;
  direction_counters counters_;
};

// ---- settings from text: "rate=100mbit,delay=100ms,queue=5MB,loss=1%" ----

namespace detail {

// The number at the front of `text` and the unit after it (lower case).
inline bool split_number(std::string_view text, double& number, std::string& unit) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  try {
    std::size_t used = 0;
    const std::string digits(text.substr(0, i));
    number = std::stod(digits, &used);
    if (used != digits.size()) return false;
  } catch (...) {
    return false;
  }
  unit.clear();
  for (char c : text.substr(i))
    unit += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return number >= 0;
}

inline bool parse_rate(std::string_view text, std::uint64_t& bits_per_s) {
  double n = 0;
  std::string unit;
  if (!split_number(text, n, unit)) return false;
  double scale = 0;
  if (unit.empty() || unit == "bit" || unit == "bps") scale = 1;
  if (unit == "k" || unit == "kbit") scale = 1e3;
  if (unit == "m" || unit == "mbit") scale = 1e6;
  if (unit == "g" || unit == "gbit") scale = 1e9;
  if (scale == 0 || n * scale > 1e12) return false;
  bits_per_s = static_cast<std::uint64_t>(n * scale);
  return true;
}

inline bool parse_delay(std::string_view text, nanoseconds& delay) {
  double n = 0;
  std::string unit;
  if (!split_number(text, n, unit)) return false;
  double scale = 0;
  if (unit == "s") scale = 1e9;
  if (unit == "ms" || (unit.empty() && n == 0)) scale = 1e6;
  if (unit == "us") scale = 1e3;
  if (unit == "ns") scale = 1;
  if (scale == 0 || n * scale > 60e9) return false;
  delay = nanoseconds(static_cast<std::int64_t>(n * scale));
  return true;
}

// "64KiB", "5MB", "1500" (bytes) or "100p" (frames).
inline bool parse_queue(std::string_view text, direction_settings& out) {
  double n = 0;
  std::string unit;
  if (!split_number(text, n, unit)) return false;
  if (unit == "p") {
    out.queue_limit_frames = static_cast<std::uint64_t>(n);
    out.queue_limit_bytes = 0;
    return n <= 1e8;
  }
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  if (unit == "kb") scale = 1e3;
  if (unit == "mb") scale = 1e6;
  if (unit == "kib") scale = 1024;
  if (unit == "mib") scale = 1024.0 * 1024;
  if (scale == 0 || n * scale > 16e9) return false;
  out.queue_limit_bytes = static_cast<std::uint64_t>(n * scale);
  out.queue_limit_frames = 0;
  return true;
}

inline bool parse_loss(std::string_view text, double& probability) {
  double n = 0;
  std::string unit;
  if (!split_number(text, n, unit)) return false;
  if (unit == "%")
    n /= 100;
  else if (!unit.empty())
    return false;
  if (n > 1) return false;
  probability = n;
  return true;
}

}  // namespace detail

// Applies "key=value,key=value" on top of `out`; keys: rate, queue, delay,
// loss. On a bad spec, says why in `error` and returns false.
inline bool parse_settings(std::string_view spec, direction_settings& out, std::string& error) {
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    bool ok = false;
    if (key == "rate") ok = detail::parse_rate(value, out.rate_bits_per_s);
    if (key == "queue") ok = detail::parse_queue(value, out);
    if (key == "delay") ok = detail::parse_delay(value, out.delay);
    if (key == "loss") ok = detail::parse_loss(value, out.loss_probability);
    if (!ok) {
      error = "bad link setting '" + std::string(item) +
              "' (expected rate=100mbit, queue=64KiB|100p, delay=10ms, or loss=1%)";
      return false;
    }
  }
  return true;
}

}  // namespace peerlab::link

#include "peer/rate.hpp"

#include <algorithm>
#include <string>

namespace peerlab::peer {

namespace {

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

protocol::error rate_error(std::string_view text, std::string_view why) {
  return {"'" + std::string(text) + "' is not a rate: " + std::string(why)};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
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

}  // namespace peerlab::peer

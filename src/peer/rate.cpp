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

protocol::error rate_error(std::string_view text, std::string_view why) {
  return {"'" + std::string(text) + "' is not a rate: " + std::string(why)};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// 0.DIGITS × unit rounded to the nearest byte (halves up), exactly for any
// number of digits: Horner's rule from the last digit keeps the whole bytes
// of 0.d_k…d_n × unit (below unit, so no overflow), and the last step's
// remainder is the first decimal of what is left, which decides the rounding.
std::uint64_t fraction_bytes_of(std::string_view digits, std::uint64_t unit) {
  std::uint64_t whole = 0;
  std::uint64_t first_decimal = 0;
  for (auto digit = digits.rbegin(); digit != digits.rend(); ++digit) {
    const std::uint64_t t = static_cast<std::uint64_t>(*digit - '0') * unit + whole;
    whole = t / 10;
    first_decimal = t % 10;
  }
  return whole + (first_decimal >= 5 ? 1 : 0);
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

  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const std::size_t first = ++i;
    for (; i < text.size() && is_digit(text[i]); ++i)
      nonzero = nonzero || text[i] != '0';
    if (i == first) return rate_error(text, examples);
    fraction = text.substr(first, i - first);
  }

  const auto unit = std::find_if(std::begin(rate_units), std::end(rate_units),
                                 [&](const rate_unit& u) { return u.suffix == text.substr(i); });
  if (unit == std::end(rate_units)) return rate_error(text, examples);
  if (!fraction.empty() && unit->bytes == 1)
    return rate_error(text, "bytes per second are whole; use e.g. 1.5KiB for fractions");

  const auto too_large_error = protocol::error{"'" + std::string(text) +
                                               "' is too large a rate: at most 2^63 bytes per "
                                               "second (8589934592GiB)"};
  if (too_large || whole > max_rate / unit->bytes) return too_large_error;
  const std::uint64_t fraction_bytes = fraction_bytes_of(fraction, unit->bytes);
  const std::uint64_t bytes = whole * unit->bytes;
  if (fraction_bytes > max_rate - bytes) return too_large_error;
  if (bytes + fraction_bytes == 0 && nonzero)
    return rate_error(text, "it is less than one byte per second; use 0 for unlimited");
  return bytes + fraction_bytes;
}

}  // namespace peerlab::peer

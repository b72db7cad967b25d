// RATE parser (--up-limit, --down-limit): any text in. Checks against an
// exact reference (decimal big numbers, so no digit is ever dropped): a rate
// parses exactly when it is DIGITS[.DIGITS] with a known unit (no fraction of
// a plain byte), its value rounded to the nearest byte (halves up) is at most
// 2^63, and it does not round a nonzero rate down to 0 (which would mean
// unlimited); and then the value is that rounded one.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "peer/rate.hpp"

namespace peerlab::fuzz {

namespace {

__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t max_rate = std::uint64_t{1} << 63;

struct rate_text {
  std::string_view whole, fraction, unit;
  bool has_point = false;
};

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// DIGITS [ "." DIGITS ] UNIT, or nothing.
std::optional<rate_text> split_rate(std::string_view text) {
  rate_text r;
  const auto unit_at = std::min(text.find_first_not_of("0123456789."), text.size());
  const auto number = text.substr(0, unit_at);
  r.unit = text.substr(unit_at);
  const auto point = number.find('.');
  r.whole = number.substr(0, point);
  if (point != std::string_view::npos) {
    r.has_point = true;
    r.fraction = number.substr(point + 1);
    if (r.fraction.empty() || !all_digits(r.fraction)) return std::nullopt;
  }
  if (r.whole.empty() || !all_digits(r.whole)) return std::nullopt;
  return r;
}

std::uint64_t unit_bytes(std::string_view unit) {
  if (unit.empty() || unit == "B") return 1;
  if (unit == "KiB") return std::uint64_t{1} << 10;
  if (unit == "MiB") return std::uint64_t{1} << 20;
  if (unit == "GiB") return std::uint64_t{1} << 30;
  if (unit == "KB") return 1'000;
  if (unit == "MB") return 1'000'000;
  if (unit == "GB") return 1'000'000'000;
  return 0;
}

// Natural numbers as decimal strings without leading zeros ("" is zero).
std::string strip(std::string digits) {
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  return digits;
}

std::string times(std::string_view digits, std::uint64_t k) {  // k < 2^32
  std::string out;
  std::uint64_t carry = 0;
  for (auto d = digits.rbegin(); d != digits.rend(); ++d) {
    const std::uint64_t t = static_cast<std::uint64_t>(*d - '0') * k + carry;
    out.push_back(static_cast<char>('0' + t % 10));
    carry = t / 10;
  }
  for (; carry > 0; carry /= 10)
    out.push_back(static_cast<char>('0' + carry % 10));
  std::reverse(out.begin(), out.end());
  return strip(out);
}

// q · 10^n
std::string shifted(u128 q, std::size_t n) {
  std::string out;
  for (; q > 0; q /= 10)
    out.push_back(static_cast<char>('0' + static_cast<int>(q % 10)));
  std::reverse(out.begin(), out.end());
  return out.empty() ? out : out + std::string(n, '0');
}

bool less(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

}  // namespace

int fuzz_rate(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = peer::parse_rate(text);
  if (parsed)
    FUZZ_CHECK(*parsed <= max_rate);
  else
    FUZZ_CHECK(!parsed.error_message().empty());

  const auto syntax = split_rate(text);
  const auto unit = syntax ? unit_bytes(syntax->unit) : 0;
  if (!syntax || unit == 0 || (syntax->has_point && unit == 1)) {
    FUZZ_CHECK(!parsed);
    return 0;
  }

  // The rate is x = D · unit / 10^n bytes (D: all its digits, n: those after
  // the point); v is x rounded halves up iff (2v-1)·10^n <= 2·D·unit < (2v+1)·10^n.
  const std::string digits = std::string(syntax->whole) + std::string(syntax->fraction);
  const std::size_t n = syntax->fraction.size();
  const std::string twice = times(digits, 2 * unit);
  const bool nonzero = !strip(digits).empty();
  const bool too_large = !less(twice, shifted(2 * u128{max_rate} + 1, n));
  const bool rounds_to_zero = less(twice, shifted(1, n));
  FUZZ_CHECK(parsed.ok() == (!too_large && !(nonzero && rounds_to_zero)));
  if (parsed) {
    const u128 v = *parsed;
    FUZZ_CHECK(v == 0 || !less(twice, shifted(2 * v - 1, n)));
    FUZZ_CHECK(less(twice, shifted(2 * v + 1, n)));
  }
  return 0;
}

}  // namespace peerlab::fuzz

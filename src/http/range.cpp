#include "http/range.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "http/text.hpp"

namespace peerlab::http {

namespace {

constexpr auto huge = std::numeric_limits<std::uint64_t>::max();

// 1*DIGIT; a number too large for 64 bits saturates (it is past any end).
std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (huge - digit) / 10 ? huge : value * 10 + digit;
  }
  return value;
}

bool is_bytes_unit(std::string_view unit) {
  constexpr std::string_view bytes = "bytes";
  return unit.size() == bytes.size() && std::equal(unit.begin(), unit.end(), bytes.begin(),
                                                   [](char a, char b) { return (a | 0x20) == b; });
}

}  // namespace

byte_range parse_range(std::string_view header, std::uint64_t size) {
  const byte_range whole;
  const auto equals = header.find('=');
  if (equals == std::string_view::npos || !is_bytes_unit(trim(header.substr(0, equals))))
    return whole;
  const auto spec = trim(header.substr(equals + 1));
  // Several ranges (multipart/byteranges) are legal but optional: we ignore them.
  if (spec.find(',') != std::string_view::npos) return whole;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const auto first_text = spec.substr(0, dash);
  const auto last_text = spec.substr(dash + 1);

  byte_range r;
  if (first_text.empty()) {  // "-n": the last n bytes
    const auto suffix = parse_digits(last_text);
    if (!suffix) return whole;
    if (*suffix == 0 || size == 0) return {byte_range::kind::unsatisfiable};
    r.first = size - std::min(*suffix, size);
    r.last = size - 1;
  } else {  // "a-b" or "a-"
    const auto first = parse_digits(first_text);
    const auto last =
        last_text.empty() ? std::optional<std::uint64_t>(huge) : parse_digits(last_text);
    if (!first || !last || *last < *first) return whole;  // invalid: ignored
    if (*first >= size) return {byte_range::kind::unsatisfiable};
    r.first = *first;
    r.last = std::min(*last, size - 1);
  }
  r.what = byte_range::kind::partial;
  return r;
}

}  // namespace peerlab::http

#include "protocol/bencode.hpp"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

namespace peerlab::protocol::bt {

namespace {

bool is_digit(std::uint8_t c) {
  return c >= '0' && c <= '9';
}

// A recursive-descent reader over untrusted bytes. Every step checks the
// bytes left, the depth and the token budget before it allocates anything;
// the first problem is kept in problem_ and ends the decode.
class reader {
 public:
  reader(std::span<const std::uint8_t> in, const bdecode_limits& limits)
      : in_(in), limits_(limits) {}

  bool value(bvalue& out, std::size_t depth) {
    if (pos_ >= in_.size()) return fail("input ends where a value should start");
    if (++tokens_ > limits_.max_tokens) {
      return fail("more than " + std::to_string(limits_.max_tokens) + " values");
    }
    const std::size_t start = pos_;
    const std::uint8_t c = in_[pos_];
    bool ok = false;
    if (c == 'i') {
      bvalue::integer i = 0;
      ok = integer(i);
      if (ok) out.emplace_int(i);
    } else if (is_digit(c)) {
      ok = string(out.emplace_string());
    } else if (c == 'l' || c == 'd') {
      if (depth >= limits_.max_depth) {
        return fail("nested deeper than " + std::to_string(limits_.max_depth) + " levels");
      }
      ok = c == 'l' ? list(out, depth + 1) : dict(out, depth + 1);
    } else {
      return fail("unexpected byte " + std::to_string(c));
    }
    if (ok) out.set_source(start, pos_ - start);
    return ok;
  }

  std::size_t position() const { return pos_; }
  const std::string& problem() const { return problem_; }

 private:
  bool fail(std::string why) {
    problem_ = "bencode at byte " + std::to_string(pos_) + ": " + std::move(why);
    return false;
  }

  // i<digits>e, digits canonical: no leading zero, no "-0", within int64.
  bool integer(bvalue::integer& out) {
    ++pos_;  // 'i'
    const bool negative = pos_ < in_.size() && in_[pos_] == '-';
    if (negative) ++pos_;
    const std::size_t first = pos_;
    // 2^63: the magnitude of the smallest int64; positives stop one below.
    const std::uint64_t limit = std::uint64_t{1} << 63;
    std::uint64_t magnitude = 0;
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      const std::uint64_t digit = in_[pos_] - '0';
      if (magnitude > (limit - digit) / 10) return fail("integer out of range");
      magnitude = magnitude * 10 + digit;
      ++pos_;
    }
    if (pos_ >= in_.size()) return fail("integer without its closing 'e'");
    if (in_[pos_] != 'e') return fail("integer with a non-digit");
    const std::size_t digits = pos_ - first;
    if (digits == 0) return fail("integer without digits");
    if (digits > 1 && in_[first] == '0') return fail("integer with a leading zero");
    if (negative && magnitude == 0) return fail("negative zero");
    if (!negative && magnitude == limit) return fail("integer out of range");
    ++pos_;  // 'e'
    out = negative ? static_cast<bvalue::integer>(~magnitude + 1)
                   : static_cast<bvalue::integer>(magnitude);
    return true;
  }

  // <length>:<bytes>, the length canonical and within the bytes left.
  bool string(std::string& out) {
    const std::size_t first = pos_;
    std::size_t length = 0;
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      length = length * 10 + (in_[pos_] - '0');
      ++pos_;
      // Checked at every digit, so it cannot overflow: the input is bounded.
      if (length > in_.size()) return fail("string longer than the input");
    }
    if (pos_ >= in_.size() || in_[pos_] != ':') return fail("string length without ':'");
    if (pos_ - first > 1 && in_[first] == '0') return fail("string length with a leading zero");
    ++pos_;  // ':'
    if (length > in_.size() - pos_) {
      return fail("string of " + std::to_string(length) + " bytes but only " +
                  std::to_string(in_.size() - pos_) + " left");
    }
    out.assign(reinterpret_cast<const char*>(in_.data() + pos_), length);
    pos_ += length;
    return true;
  }

  bool list(bvalue& out, std::size_t depth) {
    ++pos_;  // 'l'
    auto& items = out.emplace_list();
    while (pos_ < in_.size() && in_[pos_] != 'e') {
      items.emplace_back();
      if (!value(items.back(), depth)) return false;
    }
    if (pos_ >= in_.size()) return fail("list without its closing 'e'");
    ++pos_;
    return true;
  }

  bool dict(bvalue& out, std::size_t depth) {
    ++pos_;  // 'd'
    auto& entries = out.emplace_dict();
    while (pos_ < in_.size() && in_[pos_] != 'e') {
      if (!is_digit(in_[pos_])) return fail("dictionary key is not a string");
      if (++tokens_ > limits_.max_tokens) {
        return fail("more than " + std::to_string(limits_.max_tokens) + " values");
      }
      std::string key;
      if (!string(key)) return false;
      // Sorted and unique, as BEP 3 requires: otherwise one dictionary would
      // have several encodings, and so several info-hashes.
      if (!entries.empty() && !(entries.back().first < key)) {
        return fail(entries.back().first == key ? "duplicate dictionary key"
                                                : "dictionary keys out of order");
      }
      entries.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)),
                           std::forward_as_tuple());
      if (!value(entries.back().second, depth)) return false;
    }
    if (pos_ >= in_.size()) return fail("dictionary without its closing 'e'");
    ++pos_;
    return true;
  }

  std::span<const std::uint8_t> in_;
  const bdecode_limits& limits_;
  std::size_t pos_ = 0;
  std::size_t tokens_ = 0;
  std::string problem_;
};

void append_decimal(std::vector<std::uint8_t>& out, std::uint64_t n) {
  char digits[20];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (count > 0)
    out.push_back(static_cast<std::uint8_t>(digits[--count]));
}

void append_string(std::vector<std::uint8_t>& out, std::string_view s) {
  append_decimal(out, s.size());
  out.push_back(':');
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

bvalue::bvalue(dict d) {
  std::stable_sort(d.begin(), d.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  d.erase(std::unique(d.begin(), d.end(),
                      [](const auto& a, const auto& b) { return a.first == b.first; }),
          d.end());
  v_.emplace<3>(std::move(d));
}

const bvalue* bvalue::find(std::string_view key) const {
  if (!is_dict()) return nullptr;
  const auto& d = as_dict();
  const auto it =
      std::lower_bound(d.begin(), d.end(), key,
                       [](const auto& entry, std::string_view k) { return entry.first < k; });
  return it != d.end() && it->first == key ? &it->second : nullptr;
}

const bvalue* bvalue::find_int(std::string_view key) const {
  const auto* v = find(key);
  return v && v->is_int() ? v : nullptr;
}
const bvalue* bvalue::find_string(std::string_view key) const {
  const auto* v = find(key);
  return v && v->is_string() ? v : nullptr;
}
const bvalue* bvalue::find_list(std::string_view key) const {
  const auto* v = find(key);
  return v && v->is_list() ? v : nullptr;
}
const bvalue* bvalue::find_dict(std::string_view key) const {
  const auto* v = find(key);
  return v && v->is_dict() ? v : nullptr;
}

bvalue& bvalue::set(std::string key, bvalue value) {
  auto& d = as_dict();
  const auto it =
      std::lower_bound(d.begin(), d.end(), key,
                       [](const auto& entry, const std::string& k) { return entry.first < k; });
  if (it != d.end() && it->first == key) {
    it->second = std::move(value);
    return it->second;
  }
  return d.emplace(it, std::move(key), std::move(value))->second;
}

result<bdecoded_prefix> bdecode_prefix(std::span<const std::uint8_t> input,
                                       const bdecode_limits& limits) {
  if (input.size() > limits.max_input_bytes) {
    return error{"bencoded input of " + std::to_string(input.size()) +
                 " bytes exceeds the maximum of " + std::to_string(limits.max_input_bytes)};
  }
  reader r(input, limits);
  bdecoded_prefix out;
  if (!r.value(out.value, 0)) return error{r.problem()};
  out.consumed = r.position();
  return out;
}

result<bvalue> bdecode(std::span<const std::uint8_t> input, const bdecode_limits& limits) {
  auto prefix = bdecode_prefix(input, limits);
  if (!prefix) return error{prefix.error_message()};
  if (prefix->consumed != input.size()) {
    return error{"bencode: " + std::to_string(input.size() - prefix->consumed) +
                 " unexpected bytes after the value"};
  }
  return std::move(prefix->value);
}

result<bvalue> bdecode(std::string_view input, const bdecode_limits& limits) {
  return bdecode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(input.data()),
                                               input.size()),
                 limits);
}

void bencode_append(const bvalue& value, std::vector<std::uint8_t>& out) {
  if (value.is_int()) {
    const auto i = value.as_int();
    out.push_back('i');
    if (i < 0) out.push_back('-');
    // Magnitude in unsigned arithmetic: -2^63 has no positive int64.
    append_decimal(out, i < 0 ? ~static_cast<std::uint64_t>(i) + 1 : static_cast<std::uint64_t>(i));
    out.push_back('e');
  } else if (value.is_string()) {
    append_string(out, value.as_string());
  } else if (value.is_list()) {
    out.push_back('l');
    for (const auto& item : value.as_list())
      bencode_append(item, out);
    out.push_back('e');
  } else {
    const auto& d = value.as_dict();
    std::vector<const bvalue::dict::value_type*> order;
    order.reserve(d.size());
    for (const auto& entry : d)
      order.push_back(&entry);
    std::stable_sort(order.begin(), order.end(),
                     [](const auto* a, const auto* b) { return a->first < b->first; });
    out.push_back('d');
    const std::string* previous = nullptr;
    for (const auto* entry : order) {
      if (previous && *previous == entry->first) continue;  // first of equal keys wins
      append_string(out, entry->first);
      bencode_append(entry->second, out);
      previous = &entry->first;
    }
    out.push_back('e');
  }
}

std::vector<std::uint8_t> bencode(const bvalue& value) {
  std::vector<std::uint8_t> out;
  bencode_append(value, out);
  return out;
}

std::string bencode_string(const bvalue& value) {
  const auto bytes = bencode(value);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace peerlab::protocol::bt

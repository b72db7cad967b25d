#pragma once
// Bencoding (BEP 3), BitTorrent's serialization: integers `i42e`, byte
// strings `4:spam`, lists `l…e` and dictionaries `d…e` whose keys are byte
// strings in sorted order. .torrent files, extension messages and tracker
// answers are all bencoded.
//
// The decoder takes untrusted bytes with explicit budgets (like libtorrent's
// bdecode: a depth limit and a token limit) and accepts only the canonical
// encoding, so that decode → encode gives back the very same bytes: an
// info-hash is the hash of the bytes, and two encodings of one dictionary
// would be two different torrents.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

class bvalue {
 public:
  using integer = std::int64_t;
  using string = std::string;  // bytes, not necessarily UTF-8
  using list = std::vector<bvalue>;
  // Sorted by key (raw byte order), no key twice: what the encoder writes
  // and find() relies on. Edit through set(), or keep the order yourself.
  using dict = std::vector<std::pair<std::string, bvalue>>;

  bvalue() : v_(integer{0}) {}
  template <std::integral I>
  requires(!std::same_as<I, bool> && !std::same_as<I, char>) bvalue(I i)
      : v_(static_cast<integer>(i)) {}
  bvalue(string s) : v_(std::move(s)) {}
  bvalue(const char* s) : v_(string(s)) {}
  bvalue(std::string_view s) : v_(string(s)) {}
  bvalue(std::span<const std::uint8_t> bytes) : v_(string(bytes.begin(), bytes.end())) {}
  bvalue(list l) : v_(std::move(l)) {}
  bvalue(dict d);  // sorts the keys; of two equal keys the first stays
  static bvalue make_dict() { return bvalue(dict{}); }
  // Turn this value into an empty list or dict in place (what a decoder
  // fills), or into an integer or string.
  list& emplace_list() { return v_.emplace<2>(); }
  dict& emplace_dict() { return v_.emplace<3>(); }
  void emplace_int(integer i) { v_.emplace<0>(i); }
  string& emplace_string() { return v_.emplace<1>(); }
  static bvalue make_list() { return bvalue(list{}); }

  bool is_int() const { return v_.index() == 0; }
  bool is_string() const { return v_.index() == 1; }
  bool is_list() const { return v_.index() == 2; }
  bool is_dict() const { return v_.index() == 3; }

  // Only after the matching is_…() check.
  integer as_int() const { return std::get<0>(v_); }
  const string& as_string() const { return std::get<1>(v_); }
  const list& as_list() const { return std::get<2>(v_); }
  list& as_list() { return std::get<2>(v_); }
  const dict& as_dict() const { return std::get<3>(v_); }
  dict& as_dict() { return std::get<3>(v_); }

  // Dictionary access by key; nullptr when absent or when this is no dict.
  const bvalue* find(std::string_view key) const;
  const bvalue* find_int(std::string_view key) const;
  const bvalue* find_string(std::string_view key) const;
  const bvalue* find_list(std::string_view key) const;
  const bvalue* find_dict(std::string_view key) const;
  // Inserts or replaces, keeping the keys sorted. This must be a dict.
  bvalue& set(std::string key, bvalue value);

  // Where this value was in the bytes it was decoded from (offset, length);
  // {0, 0} for a value built in code. The info-hash is computed over
  // exactly these bytes of the `info` dictionary.
  std::size_t source_offset() const { return source_offset_; }
  std::size_t source_length() const { return source_length_; }
  void set_source(std::size_t offset, std::size_t length) {
    source_offset_ = offset;
    source_length_ = length;
  }

  // Equal content; where the values came from does not count.
  bool operator==(const bvalue& other) const { return v_ == other.v_; }

 private:
  std::variant<integer, string, list, dict> v_;
  std::size_t source_offset_ = 0;
  std::size_t source_length_ = 0;
};

// Budgets for one decode: what a hostile input may cost at most.
struct bdecode_limits {
  std::size_t max_input_bytes = 8 * 1024 * 1024;
  std::size_t max_depth = 32;          // nested lists/dicts
  std::size_t max_tokens = 1'000'000;  // values of any kind, keys included
};

// The whole input must be exactly one value: trailing bytes are an error.
result<bvalue> bdecode(std::span<const std::uint8_t> input, const bdecode_limits& limits = {});
result<bvalue> bdecode(std::string_view input, const bdecode_limits& limits = {});

// One value at the start of the input, and how many bytes it took: for
// messages where raw data follows a bencoded header (BEP 9 metadata pieces).
struct bdecoded_prefix {
  bvalue value;
  std::size_t consumed = 0;
};
result<bdecoded_prefix> bdecode_prefix(std::span<const std::uint8_t> input,
                                       const bdecode_limits& limits = {});

// Canonical encoding: dictionary keys in sorted order (a dict built out of
// order is written sorted; of two equal keys the first wins).
std::vector<std::uint8_t> bencode(const bvalue& value);
void bencode_append(const bvalue& value, std::vector<std::uint8_t>& out);
std::string bencode_string(const bvalue& value);

// Raw bytes (a digest, a pieces root) as a byte string's contents.
inline std::string byte_string(std::span<const std::uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// Digests one after another, as a v1 `pieces` string or a piece layer holds them.
template <class Digest>
std::string concatenated(const std::vector<Digest>& digests) {
  std::string out;
  out.reserve(digests.size() * sizeof(Digest));
  for (const auto& d : digests)
    out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out;
}

}  // namespace peerlab::protocol::bt

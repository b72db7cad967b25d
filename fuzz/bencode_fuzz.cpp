// Bencode decoder: any bytes in, as a .torrent or an extension message
// delivers them. Checks: what decodes is canonical (encoding it again gives
// exactly the input, so an info-hash over the bytes is well defined); the
// prefix decoder agrees; every value's recorded span decodes to that value;
// a budget one depth level or one token short refuses it.

#include <algorithm>
#include <span>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/bencode.hpp"

namespace peerlab::fuzz {

namespace {

using protocol::bt::bvalue;

std::size_t tokens_of(const bvalue& v) {
  std::size_t n = 1;
  if (v.is_list()) {
    for (const auto& item : v.as_list())
      n += tokens_of(item);
  } else if (v.is_dict()) {
    for (const auto& [key, item] : v.as_dict())
      n += 1 + tokens_of(item);  // the key is a token too
  }
  return n;
}

std::size_t depth_of(const bvalue& v) {
  std::size_t deepest = 0;
  if (v.is_list()) {
    for (const auto& item : v.as_list())
      deepest = std::max(deepest, depth_of(item));
    return deepest + 1;
  }
  if (v.is_dict()) {
    for (const auto& [key, item] : v.as_dict())
      deepest = std::max(deepest, depth_of(item));
    return deepest + 1;
  }
  return 0;
}

// Each value's span in the input decodes on its own to the same value.
void check_spans(const bvalue& v, std::span<const std::uint8_t> input, int budget) {
  if (budget <= 0) return;
  const auto slice = input.subspan(v.source_offset(), v.source_length());
  const auto alone = protocol::bt::bdecode(slice);
  FUZZ_CHECK(alone.ok() && *alone == v);
  if (v.is_list()) {
    for (const auto& item : v.as_list())
      check_spans(item, input, budget - 1);
  } else if (v.is_dict()) {
    for (const auto& [key, item] : v.as_dict())
      check_spans(item, input, budget - 1);
  }
}

}  // namespace

int fuzz_bencode(const std::uint8_t* data, std::size_t size) {
  using namespace protocol::bt;
  const std::span<const std::uint8_t> input(data, size);
  const auto decoded = bdecode(input);
  const auto prefix = bdecode_prefix(input);
  if (prefix) FUZZ_CHECK(prefix->consumed <= size && prefix->consumed > 0);
  if (!decoded) {
    FUZZ_CHECK(!decoded.error_message().empty());
    // Only trailing bytes can make the prefix decoder succeed where the whole fails.
    if (prefix) FUZZ_CHECK(prefix->consumed < size);
    return 0;
  }
  FUZZ_CHECK(prefix && prefix->consumed == size && prefix->value == *decoded);
  // Canonical: one encoding per value, and it is the input.
  const auto encoded = bencode(*decoded);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), input.begin(), input.end()));
  FUZZ_CHECK(decoded->source_offset() == 0 && decoded->source_length() == size);
  const auto depth = depth_of(*decoded);
  FUZZ_CHECK(depth <= bdecode_limits{}.max_depth);
  check_spans(*decoded, input, 3);

  // A budget one level too shallow refuses it; exactly deep enough accepts.
  if (depth > 0) {
    bdecode_limits shallow;
    shallow.max_depth = depth - 1;
    FUZZ_CHECK(!bdecode(input, shallow).ok());
    shallow.max_depth = depth;
    FUZZ_CHECK(bdecode(input, shallow).ok());
  }
  bdecode_limits tokens;
  tokens.max_tokens = tokens_of(*decoded);
  FUZZ_CHECK(bdecode(input, tokens).ok());
  tokens.max_tokens -= 1;
  FUZZ_CHECK(!bdecode(input, tokens).ok());
  return 0;
}

}  // namespace peerlab::fuzz

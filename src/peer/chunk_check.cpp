#include "peer/chunk_check.hpp"

#include <algorithm>
#include <bit>

#include "protocol/bt_hash.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

chunk_check chunk_check::sha256(const protocol::sha256_digest& d) {
  return {kind::sha256, d, 0, 0};
}

chunk_check chunk_check::sha1(std::span<const std::uint8_t, 20> d) {
  chunk_check c{kind::sha1, {}, 0, 0};
  std::copy(d.begin(), d.end(), c.digest.begin());
  return c;
}

chunk_check chunk_check::merkle(const protocol::sha256_digest& root, std::uint32_t leaves,
                                std::uint32_t file_bytes) {
  return {kind::merkle, root, leaves, file_bytes};
}

bool matches(const chunk_check& c, std::span<const std::uint8_t> data) {
  switch (c.what) {
    case chunk_check::kind::sha256:
      return protocol::sha256(data) == c.digest;
    case chunk_check::kind::sha1: {
      const auto d = bt::sha1(data);
      return std::equal(d.begin(), d.end(), c.digest.begin());
    }
    case chunk_check::kind::merkle:
      break;
  }
  if (c.file_bytes > 0) {
    if (c.file_bytes > data.size()) return false;
    const auto pad = data.subspan(c.file_bytes);
    if (std::any_of(pad.begin(), pad.end(), [](std::uint8_t b) { return b != 0; })) return false;
    data = data.first(c.file_bytes);
  }
  if (data.empty() || !std::has_single_bit(c.merkle_leaves)) return false;
  // The last block may be short: hashed as it is; missing leaves are zeros.
  const auto leaves = bt::block_hashes(data);
  if (leaves.size() > c.merkle_leaves) return false;
  return bt::merkle_root(leaves, c.merkle_leaves, bt::sha256_digest{}) == c.digest;
}

}  // namespace peerlab::peer

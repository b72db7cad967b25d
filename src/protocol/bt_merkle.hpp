#pragma once
// BitTorrent v2 (BEP 52) merkle trees: a file's 16 KiB blocks are hashed with
// SHA-256 (the leaves), pairs of hashes are hashed into their parent, up to
// one root per file, the "pieces root". Missing leaves past the end of the
// file count as 32 zero bytes, so every tree is complete (a power of two
// wide). The piece layer is the layer where one hash covers one piece.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

using sha1_digest = std::array<std::uint8_t, 20>;
using sha256_digest = std::array<std::uint8_t, 32>;

inline constexpr std::uint32_t block_bytes = 16 * 1024;

sha1_digest sha1(std::span<const std::uint8_t> bytes);
sha256_digest sha256_of(std::span<const std::uint8_t> bytes);

// SHA-256 of left ‖ right.
sha256_digest merkle_parent(const sha256_digest& left, const sha256_digest& right);
// The root of a complete subtree of 2^depth zero leaves (depth 0: 32 zero bytes).
sha256_digest merkle_pad(unsigned depth);
// The smallest power of two ≥ n (1 for n = 0).
std::uint64_t merkle_width(std::uint64_t n);
// log2 of a power of two.
unsigned log2_exact(std::uint64_t power_of_two);

// Root of `hashes` padded with `pad` to `width` entries (a power of two ≥
// hashes.size()); the pad doubles up the layers with the tree, so padding a
// piece layer with merkle_pad(d) is padding its leaves with zeros.
sha256_digest merkle_root(std::span<const sha256_digest> hashes, std::uint64_t width,
                          const sha256_digest& pad);

// The layers of such a tree, from `hashes` (layer 0, padded) up to the root:
// what a seeder needs to answer BEP 52 hash requests with proofs.
std::vector<std::vector<sha256_digest>> merkle_layers(std::span<const sha256_digest> hashes,
                                                      std::uint64_t width,
                                                      const sha256_digest& pad);

// The answer to a BEP 52 hash request over a tree given by its layers (layer
// 0 is the request's base layer): `count` hashes from `index`, then the
// uncle hashes that prove their subtree up to the root, at most
// proof_layers of them, skipping the layers the answered hashes already
// cover. An error when the request does not fit the tree.
result<std::vector<sha256_digest>> merkle_hashes_for_request(
    const std::vector<std::vector<sha256_digest>>& layers, std::uint32_t index, std::uint32_t count,
    std::uint32_t proof_layers);

}  // namespace peerlab::protocol::bt

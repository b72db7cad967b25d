#include "protocol/bt_merkle.hpp"

#include <openssl/evp.h>

#include <bit>
#include <stdexcept>
#include <string>

namespace peerlab::protocol::bt {

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, std::span<const std::uint8_t> bytes) {
  std::array<std::uint8_t, N> out{};
  unsigned int length = 0;
  // Fails only if OpenSSL itself is broken (out of memory), as in manifest.cpp.
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &length, md, nullptr) != 1 ||
      length != N) {
    throw std::runtime_error("OpenSSL digest failed");
  }
  return out;
}

}  // namespace

sha1_digest sha1(std::span<const std::uint8_t> bytes) {
  return digest<20>(EVP_sha1(), bytes);
}

sha256_digest sha256_of(std::span<const std::uint8_t> bytes) {
  return digest<32>(EVP_sha256(), bytes);
}

sha256_digest merkle_parent(const sha256_digest& left, const sha256_digest& right) {
  std::array<std::uint8_t, 64> pair{};
  std::copy(left.begin(), left.end(), pair.begin());
  std::copy(right.begin(), right.end(), pair.begin() + 32);
  return sha256_of(pair);
}

sha256_digest merkle_pad(unsigned depth) {
  sha256_digest pad{};
  for (unsigned i = 0; i < depth; ++i)
    pad = merkle_parent(pad, pad);
  return pad;
}

std::uint64_t merkle_width(std::uint64_t n) {
  return n <= 1 ? 1 : std::bit_ceil(n);
}

unsigned log2_exact(std::uint64_t power_of_two) {
  return static_cast<unsigned>(std::countr_zero(power_of_two));
}

std::vector<std::vector<sha256_digest>> merkle_layers(std::span<const sha256_digest> hashes,
                                                      std::uint64_t width,
                                                      const sha256_digest& pad) {
  std::vector<std::vector<sha256_digest>> layers;
  if (width < hashes.size() || !std::has_single_bit(width)) return layers;
  layers.emplace_back(hashes.begin(), hashes.end());
  layers.back().resize(width, pad);
  while (layers.back().size() > 1) {
    const auto& below = layers.back();
    std::vector<sha256_digest> above(below.size() / 2);
    for (std::size_t i = 0; i < above.size(); ++i)
      above[i] = merkle_parent(below[2 * i], below[2 * i + 1]);
    layers.push_back(std::move(above));
  }
  return layers;
}

sha256_digest merkle_root(std::span<const sha256_digest> hashes, std::uint64_t width,
                          const sha256_digest& pad) {
  // Only the real hashes are stored; whole runs of padding are one pad
  // value per layer, so a wide, mostly empty tree costs what its data does.
  std::vector<sha256_digest> layer(hashes.begin(), hashes.end());
  sha256_digest layer_pad = pad;
  if (width < layer.size() || !std::has_single_bit(width)) return {};
  while (width > 1) {
    std::vector<sha256_digest> above((layer.size() + 1) / 2);
    for (std::size_t i = 0; i < above.size(); ++i) {
      const auto& right = 2 * i + 1 < layer.size() ? layer[2 * i + 1] : layer_pad;
      above[i] = merkle_parent(layer[2 * i], right);
    }
    layer_pad = merkle_parent(layer_pad, layer_pad);
    layer = std::move(above);
    width /= 2;
  }
  return layer.empty() ? layer_pad : layer.front();
}

result<std::vector<sha256_digest>> merkle_hashes_for_request(
    const std::vector<std::vector<sha256_digest>>& layers, std::uint32_t index, std::uint32_t count,
    std::uint32_t proof_layers) {
  if (layers.empty()) return error{"no merkle tree"};
  const std::uint64_t base_width = layers.front().size();
  if (count == 0 || std::uint64_t{index} + count > base_width) {
    return error{"hashes " + std::to_string(index) + "+" + std::to_string(count) +
                 " outside a layer of " + std::to_string(base_width)};
  }
  // Layers above the base, the root excluded: the most proof layers there are.
  const std::size_t above_base = layers.size() - 1;
  if (proof_layers >= above_base && proof_layers > 0) {
    return error{"proof of " + std::to_string(proof_layers) + " layers in a tree of " +
                 std::to_string(above_base) + " above the base"};
  }
  std::vector<sha256_digest> out(layers.front().begin() + index,
                                 layers.front().begin() + index + count);
  // As libtorrent counts them (merkle_tree::get_hashes): walking up from the
  // first requested hash, the uncles start at the layer where the requested
  // hashes' own subtree has its root.
  const int subtree_layers = static_cast<int>(log2_exact(merkle_width(count))) - 1;
  for (std::uint32_t i = 0; i < proof_layers; ++i) {
    if (static_cast<int>(i) < subtree_layers) continue;
    const auto& layer = layers[i + 1];
    const std::uint64_t node = std::uint64_t{index} >> (i + 1);
    const std::uint64_t sibling = node ^ 1;
    if (sibling >= layer.size()) return error{"merkle proof walks off the tree"};
    out.push_back(layer[sibling]);
  }
  return out;
}

}  // namespace peerlab::protocol::bt

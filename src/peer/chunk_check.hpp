#pragma once
// What a received chunk must hash to before it may be written: the SHA-256
// of a peerlab manifest's chunk, or, for a download born of a torrent (where
// a chunk is a BitTorrent piece), the piece's v1 SHA-1 or its v2 (BEP 52)
// merkle root over 16 KiB blocks.

#include <cstdint>
#include <span>

#include "protocol/manifest.hpp"

namespace peerlab::peer {

struct chunk_check {
  enum class kind { sha256, sha1, merkle } what = kind::sha256;
  protocol::sha256_digest digest{};  // sha1: the first 20 bytes
  // merkle: 16 KiB leaves the piece's tree is padded to (a power of two):
  // piece length / 16 KiB for a piece-layer hash, merkle_width(blocks) for
  // the pieces root of a file of at most one piece.
  std::uint32_t merkle_leaves = 0;
  // merkle, in a multi-file v2 torrent: the piece's bytes of its file (0:
  // all of it); the rest is the zeros padding the file to a piece boundary,
  // which are not in the file's tree and must be zeros.
  std::uint32_t file_bytes = 0;

  static chunk_check sha256(const protocol::sha256_digest& d);
  static chunk_check sha1(std::span<const std::uint8_t, 20> d);
  static chunk_check merkle(const protocol::sha256_digest& root, std::uint32_t leaves,
                            std::uint32_t file_bytes = 0);
};

// Whether `data` (one whole chunk) hashes to what `c` says. A merkle check
// with no leaves, leaves not a power of two, or more blocks than leaves,
// never matches.
bool matches(const chunk_check& c, std::span<const std::uint8_t> data);

}  // namespace peerlab::peer

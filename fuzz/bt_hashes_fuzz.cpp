// The BitTorrent hashes a node keeps next to each manifest (manifests/ID.bt,
// peer/bt_info): read back at start from a data directory anyone with write
// access may have tampered with. Input: 4 bytes of file size (little-endian,
// up to 64 chunks of 256 KiB), then the file's bytes. Checks: what decodes
// has the sizes the manifest implies and a piece layer that adds up to the
// root, encodes back to the same bytes, and builds torrents in all formats.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "peer/bt_info.hpp"

namespace peerlab::fuzz {

int fuzz_bt_hashes(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::uint32_t file_size = 0;
  std::memcpy(&file_size, data, 4);
  constexpr std::uint32_t chunk = protocol::min_chunk_bytes;
  file_size = 1 + file_size % (64 * chunk);
  protocol::manifest m{"f.bin", file_size, chunk,
                       std::vector<protocol::sha256_digest>((file_size + chunk - 1) / chunk)};
  const std::span<const std::uint8_t> bytes(data + 4, size - 4);
  const auto decoded = peer::decode_bt_hashes(bytes, m);
  if (!decoded) {
    FUZZ_CHECK(!decoded.error_message().empty());
    return 0;
  }
  FUZZ_CHECK(decoded->v1_pieces.size() == m.chunk_count());
  FUZZ_CHECK(decoded->piece_layer.size() == (m.size > chunk ? m.chunk_count() : 0));
  const auto encoded = peer::encode_bt_hashes(*decoded);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), bytes.begin(), bytes.end()));
  const auto info = peer::make_bt_info(m, *decoded);
  FUZZ_CHECK(info.ok());
  FUZZ_CHECK((*info)->wire_ids().size() == 4);
  return 0;
}

}  // namespace peerlab::fuzz

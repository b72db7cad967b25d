// Manifest decoder: an encoded manifest in, as it arrives in manifest_data
// from any peer. Checks: a manifest that decodes is one we could have made
// (safe name, sizes within bounds, chunk count and lengths adding up to the
// file size), has exactly one encoding (so its content id is well defined),
// and its id survives hex.

#include <algorithm>
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/manifest.hpp"

namespace peerlab::fuzz {

int fuzz_manifest(const std::uint8_t* data, std::size_t size) {
  using namespace protocol;
  const std::span<const std::uint8_t> bytes(data, size);
  const auto decoded = decode_manifest(bytes);
  if (!decoded) {
    FUZZ_CHECK(!decoded.error_message().empty());
    return 0;
  }
  const manifest& m = *decoded;

  FUZZ_CHECK(is_safe_file_name(m.name));
  FUZZ_CHECK(m.size <= max_file_bytes);
  FUZZ_CHECK(m.chunk_size >= min_chunk_bytes && m.chunk_size <= max_chunk_bytes);
  FUZZ_CHECK((m.chunk_size & (m.chunk_size - 1)) == 0);
  FUZZ_CHECK(m.chunk_count() <= max_chunks);
  FUZZ_CHECK(m.chunk_count() == (m.size + m.chunk_size - 1) / m.chunk_size);
  // Every chunk has bytes, they tile the file, and nothing lies past the end.
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < m.chunk_count(); ++i) {
    FUZZ_CHECK(m.chunk_length(i) > 0 && m.chunk_length(i) <= m.chunk_size);
    FUZZ_CHECK(m.chunk_offset(i) == total);
    total += m.chunk_length(i);
  }
  FUZZ_CHECK(total == m.size);
  FUZZ_CHECK(m.chunk_length(m.chunk_count()) == 0);
  // The chunk size we would pick ourselves fits the same limits.
  const auto ours = chunk_size_for(m.size);
  FUZZ_CHECK(ours >= min_chunk_bytes && ours <= max_chunk_bytes);
  FUZZ_CHECK((m.size + ours - 1) / ours <= max_chunks);

  // One encoding per manifest: what came in is what we would send.
  const auto encoded = encode_manifest(m);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), bytes.begin(), bytes.end()));
  FUZZ_CHECK(encoded.size() <= max_manifest_bytes);
  const auto again = decode_manifest(encoded);
  FUZZ_CHECK(again.ok() && *again == m);

  // Exactly these bytes: one fewer is truncated, one more is trailing junk.
  FUZZ_CHECK(!decode_manifest(bytes.first(bytes.size() - 1)).ok());
  auto longer = encoded;
  longer.push_back(0);
  FUZZ_CHECK(!decode_manifest(longer).ok());

  const auto id = id_of(m);
  FUZZ_CHECK(id == id_of_encoded(bytes));
  const auto back = content_id_from_hex(to_hex(id));
  FUZZ_CHECK(back.ok() && *back == id);
  return 0;
}

}  // namespace peerlab::fuzz

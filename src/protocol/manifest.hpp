#pragma once
// A file's manifest: its name, size, chunk size and the SHA-256 of every
// chunk. The content id is the SHA-256 of the manifest's encoding, so a
// manifest received from anyone can be checked against the id that was asked
// for, and every chunk against the manifest.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"

namespace peerlab::protocol {

using sha256_digest = std::array<std::uint8_t, 32>;
using content_id = sha256_digest;

inline constexpr std::uint32_t min_chunk_bytes = 256 * 1024;
inline constexpr std::uint32_t max_chunk_bytes = 4 * 1024 * 1024;
inline constexpr std::size_t max_chunks = 32768;  // keeps a manifest under 1.1 MiB
inline constexpr std::size_t max_file_name_bytes = 255;
// An encoded manifest: the chunk hashes plus a little for the other fields.
inline constexpr std::size_t max_manifest_bytes = 32 * max_chunks + 1024;
// The largest shareable file: max_chunks chunks of max_chunk_bytes (128 GiB).
inline constexpr std::uint64_t max_file_bytes = std::uint64_t{max_chunks} * max_chunk_bytes;

struct manifest {
  std::string name;  // a plain file name: no directories (see is_safe_file_name)
  std::uint64_t size = 0;
  std::uint32_t chunk_size = min_chunk_bytes;
  std::vector<sha256_digest> chunk_hashes;  // ceil(size / chunk_size) of them

  std::size_t chunk_count() const { return chunk_hashes.size(); }
  // Byte offset and length of chunk i (the last one may be short).
  std::uint64_t chunk_offset(std::size_t i) const { return std::uint64_t{chunk_size} * i; }
  std::uint32_t chunk_length(std::size_t i) const;

  bool operator==(const manifest&) const = default;
};

// The smallest power-of-two chunk size ≥ min_chunk_bytes that keeps the chunk
// count ≤ max_chunks. Callers check size ≤ max_file_bytes first.
std::uint32_t chunk_size_for(std::uint64_t file_size);

// SHA-256 (OpenSSL EVP): pure, over bytes in memory.
sha256_digest sha256(std::span<const std::uint8_t> bytes);

// A name that is safe to create inside a directory: not empty, at most
// max_file_name_bytes, no '/', '\\' or NUL, no control characters, not "." or "..".
bool is_safe_file_name(std::string_view name);

std::vector<std::uint8_t> encode_manifest(const manifest& m);
// Checks every field: safe name, size ≤ max_file_bytes, chunk size a power of
// two within bounds, chunk count == ceil(size / chunk_size), no trailing bytes.
result<manifest> decode_manifest(std::span<const std::uint8_t> bytes);

// The id of a manifest: SHA-256 of its encoding.
content_id id_of(const manifest& m);
content_id id_of_encoded(std::span<const std::uint8_t> encoded_manifest);

std::string to_hex(const content_id& id);
result<content_id> content_id_from_hex(std::string_view hex);

}  // namespace peerlab::protocol

#include "protocol/manifest.hpp"

#include <openssl/evp.h>

#include <cereal/archives/portable_binary.hpp>
#include <istream>
#include <ostream>
#include <stdexcept>

#include "protocol/byte_streams.hpp"
#include "protocol/hex.hpp"

namespace peerlab::protocol {

namespace {

// Thrown only inside decode_manifest() when a field is invalid; caught there.
struct invalid_manifest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using input_archive = cereal::PortableBinaryInputArchive;
using output_archive = cereal::PortableBinaryOutputArchive;

std::uint64_t chunks_needed(std::uint64_t size, std::uint64_t chunk) {
  return size / chunk + (size % chunk != 0 ? 1 : 0);
}

bool is_power_of_two(std::uint32_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

std::string too_big(const char* what, std::uint64_t n, std::uint64_t max) {
  return std::string(what) + " of " + std::to_string(n) + " exceeds the maximum of " +
         std::to_string(max);
}

// Reads the fields in order, checking each one before the next is read (and
// before anything is allocated for it, also against the bytes left).
manifest load_manifest(input_archive& ar, const span_source& source) {
  manifest m;
  cereal::size_type name_bytes = 0;
  ar(cereal::make_size_tag(name_bytes));
  if (name_bytes > max_file_name_bytes) {
    throw invalid_manifest(too_big("file name length", name_bytes, max_file_name_bytes));
  }
  m.name.resize(static_cast<std::size_t>(name_bytes));
  ar(cereal::binary_data(m.name.data(), m.name.size()));
  if (!is_safe_file_name(m.name)) throw invalid_manifest("unsafe file name");

  ar(m.size);
  if (m.size > max_file_bytes) throw invalid_manifest(too_big("file size", m.size, max_file_bytes));

  ar(m.chunk_size);
  if (!is_power_of_two(m.chunk_size) || m.chunk_size < min_chunk_bytes ||
      m.chunk_size > max_chunk_bytes) {
    throw invalid_manifest("chunk size " + std::to_string(m.chunk_size) +
                           " is not a power of two between " + std::to_string(min_chunk_bytes) +
                           " and " + std::to_string(max_chunk_bytes));
  }

  cereal::size_type count = 0;
  ar(cereal::make_size_tag(count));
  if (count > max_chunks) throw invalid_manifest(too_big("chunk count", count, max_chunks));
  const auto expected = chunks_needed(m.size, m.chunk_size);
  if (count != expected) {
    throw invalid_manifest("chunk count " + std::to_string(count) + " does not match size " +
                           std::to_string(m.size) + " (expected " + std::to_string(expected) + ")");
  }
  // A few bytes claiming 32768 chunks must not cost 1 MiB.
  if (count > source.remaining() / sizeof(sha256_digest)) {
    throw invalid_manifest("manifest truncated: " + std::to_string(count) +
                           " chunk hashes but only " + std::to_string(source.remaining()) +
                           " bytes left");
  }
  m.chunk_hashes.resize(static_cast<std::size_t>(count));
  for (auto& h : m.chunk_hashes)
    ar(cereal::binary_data(h.data(), h.size()));
  return m;
}

}  // namespace

std::uint32_t manifest::chunk_length(std::size_t i) const {
  if (i >= chunk_count()) return 0;
  const std::uint64_t offset = chunk_offset(i);
  if (offset >= size) return 0;
  const std::uint64_t rest = size - offset;
  return rest < chunk_size ? static_cast<std::uint32_t>(rest) : chunk_size;
}

std::uint32_t chunk_size_for(std::uint64_t file_size) {
  std::uint32_t chunk = min_chunk_bytes;
  while (chunk < max_chunk_bytes && chunks_needed(file_size, chunk) > max_chunks)
    chunk *= 2;
  return chunk;
}

sha256_digest sha256(std::span<const std::uint8_t> bytes) {
  sha256_digest digest{};
  // EVP_Digest: one-shot init/update/final; fails only if OpenSSL itself is
  // broken (out of memory), which we cannot recover from either.
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return digest;
}

bool is_safe_file_name(std::string_view name) {
  if (name.empty() || name.size() > max_file_name_bytes) return false;
  if (name == "." || name == "..") return false;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    // Separators would escape the download directory; control characters
    // (NUL included) could forge log lines or drive a terminal.
    if (c == '/' || c == '\\' || byte < 0x20 || byte == 0x7f) return false;
  }
  return true;
}

std::vector<std::uint8_t> encode_manifest(const manifest& m) {
  std::vector<std::uint8_t> out;
  out.reserve(1 + 8 + m.name.size() + 8 + 4 + 8 + 32 * m.chunk_hashes.size());
  vector_sink sink(out);
  std::ostream stream(&sink);
  {
    // The archive writes its endianness flag (0x01) first.
    output_archive ar(stream, output_archive::Options::LittleEndian());
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(m.name.size())));
    ar(cereal::binary_data(m.name.data(), m.name.size()));
    ar(m.size, m.chunk_size);
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(m.chunk_hashes.size())));
    for (const auto& h : m.chunk_hashes)
      ar(cereal::binary_data(h.data(), h.size()));
  }
  return out;
}

result<manifest> decode_manifest(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return error{"manifest is empty"};
  if (bytes[0] != 1) return error{"manifest is not little-endian"};
  span_source source(bytes);
  std::istream stream(&source);
  try {
    input_archive ar(stream, input_archive::Options::Default());
    manifest m = load_manifest(ar, source);
    if (source.remaining() != 0) {
      return error{std::to_string(source.remaining()) + " unexpected bytes after manifest"};
    }
    return m;
  } catch (const invalid_manifest& e) {
    return error{e.what()};
  } catch (const cereal::Exception&) {
    return error{"manifest truncated"};
  } catch (const std::exception& e) {
    return error{std::string("malformed manifest: ") + e.what()};
  }
}

content_id id_of(const manifest& m) {
  return id_of_encoded(encode_manifest(m));
}

content_id id_of_encoded(std::span<const std::uint8_t> encoded_manifest) {
  return sha256(encoded_manifest);
}

std::string to_hex(const content_id& id) {
  return to_hex(std::span<const std::uint8_t>(id));
}

result<content_id> content_id_from_hex(std::string_view hex) {
  content_id id{};
  if (!from_hex(hex, id)) return error{"a content id is 64 lowercase hex digits"};
  return id;
}

}  // namespace peerlab::protocol

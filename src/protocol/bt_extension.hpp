#pragma once
// The BEP 10 extension protocol's handshake dictionary, and BEP 9
// ut_metadata: how a peer that has only a magnet link fetches the info
// dictionary, in 16 KiB pieces, from peers that have it.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protocol/endpoint.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

inline constexpr std::size_t max_extension_names = 64;
inline constexpr std::size_t max_extension_name_bytes = 64;
inline constexpr std::size_t max_client_name_bytes = 128;
// An info dictionary larger than this is refused (libtorrent's default
// allows about 30 MiB; a single file's v1+v2 info is well under 1 MiB).
inline constexpr std::uint64_t max_metadata_bytes = 8 * 1024 * 1024;
inline constexpr std::uint32_t metadata_piece_bytes = 16 * 1024;

// The payload of extended message 0.
struct extension_handshake {
  // m: extension name → the id the sender wants to receive it under (0:
  // the sender disables it). Sorted by name, as bencoding has it.
  std::vector<std::pair<std::string, std::uint8_t>> m;
  std::string client;                          // v: name and version, untrusted text
  std::optional<std::uint64_t> metadata_size;  // ut_metadata: the info dict's size
  std::optional<std::uint32_t> reqq;           // requests the sender queues
  std::optional<std::uint16_t> listen_port;    // p
  std::optional<endpoint> yourip;              // how the sender sees us (port 0)

  std::uint8_t id_of(std::string_view name) const;  // 0 when absent
  bool operator==(const extension_handshake&) const = default;
};

std::vector<std::uint8_t> encode_extension_handshake(const extension_handshake& h);
// Bounded: a small token and depth budget, names and client string cut
// short, metadata_size ≤ max_metadata_bytes, yourip 4 or 16 bytes. Unknown
// keys are ignored, as BEP 10 asks.
result<extension_handshake> decode_extension_handshake(std::span<const std::uint8_t> payload);

// BEP 9: {msg_type, piece[, total_size]} then, for data, the piece's bytes.
enum class metadata_type : std::uint8_t { request = 0, data = 1, reject = 2 };
struct metadata_message {
  metadata_type type = metadata_type::request;
  std::uint32_t piece = 0;
  std::uint64_t total_size = 0;    // data only
  std::vector<std::uint8_t> data;  // data only
  bool operator==(const metadata_message&) const = default;
};

// How many 16 KiB pieces metadata of this size takes.
std::uint32_t metadata_piece_count(std::uint64_t metadata_size);

std::vector<std::uint8_t> encode_metadata_message(const metadata_message& m);
// A data message must carry exactly its piece's bytes (16 KiB, or what is
// left for the last piece) of metadata no larger than max_size.
result<metadata_message> decode_metadata_message(std::span<const std::uint8_t> payload,
                                                 std::uint64_t max_size = max_metadata_bytes);

}  // namespace peerlab::protocol::bt

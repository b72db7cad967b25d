#pragma once
// The messages peers exchange, one per frame. A payload is a one-byte message
// type followed by the message's fields in cereal's portable binary archive
// (little-endian). docs/protocol.md is the byte-level specification.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/endpoint.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol {

inline constexpr std::uint32_t protocol_magic = 0x504c4142;  // "PLAB"
inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t max_name_bytes = 64;
inline constexpr std::size_t max_peers_per_message = 200;

using node_id = std::array<std::uint8_t, 16>;

std::string to_hex(std::span<const std::uint8_t> bytes);
result<node_id> node_id_from_hex(std::string_view hex);

enum class message_type : std::uint8_t {
  hello = 1,
  get_peers = 2,
  peers = 3,
  keepalive = 4,
};

// The first message on every connection, sent by both sides at once.
struct hello {
  std::uint32_t magic = protocol_magic;
  std::uint16_t version = protocol_version;
  node_id id{};
  std::uint16_t listen_port = 0;  // where the sender accepts connections
  std::string name;               // at most max_name_bytes

  bool operator==(const hello&) const = default;
};

// Peer exchange: "which peers do you know?" ...
struct get_peers {
  bool operator==(const get_peers&) const = default;
};

// ... "these": addresses where other nodes listen.
struct peers {
  std::vector<endpoint> addresses;  // at most max_peers_per_message

  bool operator==(const peers&) const = default;
};

// Proof of life on an otherwise quiet connection.
struct keepalive {
  bool operator==(const keepalive&) const = default;
};

using message = std::variant<hello, get_peers, peers, keepalive>;

std::vector<std::uint8_t> encode(const message& m);

// Decodes one frame payload. Never throws; every length is checked against
// its limit before anything is allocated, and trailing bytes are an error.
result<message> decode(std::span<const std::uint8_t> payload);

// Why a decoded hello cannot start a session (wrong magic or version), or "".
std::string handshake_problem(const hello& h);

// A peer's name made safe to print and to send: control characters (which
// could forge log lines or drive a terminal) become '?', and it is cut to
// max_name_bytes at a UTF-8 character boundary.
std::string printable_name(std::string_view name);

std::string_view type_name(const message& m);

}  // namespace peerlab::protocol

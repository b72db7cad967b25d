#pragma once
// The messages peers exchange, one per frame. A payload is a one-byte message
// type followed by the message's fields in cereal's portable binary archive
// (little-endian). docs/protocol.md is the byte-level specification.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/endpoint.hpp"
#include "protocol/folder_manifest.hpp"
#include "protocol/hex.hpp"
#include "protocol/manifest.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol {

inline constexpr std::uint32_t protocol_magic = 0x504c4142;  // "PLAB"
inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t max_name_bytes = 64;
inline constexpr std::size_t max_peers_per_message = 200;
inline constexpr std::size_t max_catalog_entries = 1000;
// manifest_data carries a file's manifest or a folder's, the larger bound.
inline constexpr std::size_t max_manifest_data_bytes =
    std::max(max_manifest_bytes, max_folder_manifest_bytes);

using node_id = std::array<std::uint8_t, 16>;

result<node_id> node_id_from_hex(std::string_view hex);

enum class message_type : std::uint8_t {
  hello = 1,
  get_peers = 2,
  peers = 3,
  keepalive = 4,
  get_catalog = 5,
  catalog = 6,
  get_manifest = 7,
  manifest_data = 8,
  get_chunk_map = 9,
  chunk_map = 10,
  have = 11,
  request = 12,
  chunk = 13,
  reject = 14,
  cancel = 15,
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

// Catalog: "what do you hold?" ... (also sent unasked whenever it changes)
struct get_catalog {
  bool operator==(const get_catalog&) const = default;
};

struct catalog_entry {
  content_id id{};
  std::string name;  // at most max_file_name_bytes
  std::uint64_t size = 0;
  bool complete = false;  // false: the sender is still downloading it
  bool folder = false;    // a folder: its manifest is a folder manifest (§4.4)

  bool operator==(const catalog_entry&) const = default;
};

// ... "these files": the sender's whole catalog, replacing any earlier one.
struct catalog {
  std::vector<catalog_entry> entries;  // at most max_catalog_entries

  bool operator==(const catalog&) const = default;
};

struct get_manifest {
  content_id id{};
  bool operator==(const get_manifest&) const = default;
};

// The encoded manifest of `id` (the receiver checks that it hashes to id): a
// file's manifest, or a folder's (told apart by its first byte).
// Empty bytes: the sender does not have it.
struct manifest_data {
  content_id id{};
  std::vector<std::uint8_t> bytes;  // at most max_manifest_data_bytes

  bool operator==(const manifest_data&) const = default;
};

// "Which chunks of id do you have?" Also subscribes the asker to `have`
// messages for id, until the connection closes.
struct get_chunk_map {
  content_id id{};
  bool operator==(const get_chunk_map&) const = default;
};

// One bit per chunk, chunk i in byte i/8, bit 7 - i%8 (most significant
// first). Empty bits: the sender holds none of it.
struct chunk_map {
  content_id id{};
  std::vector<std::uint8_t> bits;  // at most max_chunks / 8 bytes

  bool operator==(const chunk_map&) const = default;
};

// The sender now has chunk `index` of id (sent to subscribers).
struct have {
  content_id id{};
  std::uint32_t index = 0;
  bool operator==(const have&) const = default;
};

// Please send chunk `index` of id.
struct request {
  content_id id{};
  std::uint32_t index = 0;
  bool operator==(const request&) const = default;
};

// The bytes of a requested chunk; the receiver verifies them against the
// manifest before it writes or keeps anything.
struct chunk {
  content_id id{};
  std::uint32_t index = 0;
  std::vector<std::uint8_t> data;  // at most max_chunk_bytes

  bool operator==(const chunk&) const = default;
};

// The sender will not send chunk `index` of id (it does not have it, or the
// file changed); the requester asks someone else.
struct reject {
  content_id id{};
  std::uint32_t index = 0;
  bool operator==(const reject&) const = default;
};

// The requester no longer needs chunk `index` (it came from another peer).
struct cancel {
  content_id id{};
  std::uint32_t index = 0;
  bool operator==(const cancel&) const = default;
};

using message =
    std::variant<hello, get_peers, peers, keepalive, get_catalog, catalog, get_manifest,
                 manifest_data, get_chunk_map, chunk_map, have, request, chunk, reject, cancel>;

std::vector<std::uint8_t> encode(const message& m);

// A chunk message without its data: what a sender needs to stream the data
// straight from a file (sendfile) instead of copying it into a message.
struct chunk_head {
  content_id id{};
  std::uint32_t index = 0;
  std::uint32_t length = 0;  // of the data that follows
};
// The frame up to the data: frame length prefix, type, flag, id, index and
// the data's size tag. Followed by `length` data bytes, it is exactly
// encode_frame(encode(chunk{id, index, data})).
std::vector<std::uint8_t> encode_frame_head(const chunk_head& head);

// Decodes one frame payload. Never throws; every length is checked against
// its limit before anything is allocated, and trailing bytes are an error.
result<message> decode(std::span<const std::uint8_t> payload);
// The same for a payload the caller gives up: a chunk's data then takes over
// the payload's buffer instead of being copied out of it.
result<message> decode(std::vector<std::uint8_t>&& payload);

// Why a decoded hello cannot start a session (wrong magic or version), or "".
std::string handshake_problem(const hello& h);

// A peer's name made safe to print and to send: control characters (which
// could forge log lines or drive a terminal) become '?', and it is cut to
// max_name_bytes at a UTF-8 character boundary.
std::string printable_name(std::string_view name);

std::string_view type_name(const message& m);

// The key fields of a message in one short line, for traces: "request
// 3f2a9c1d #12", "peers 3 addresses", "hello alice port 7070".
std::string describe(const message& m);
std::string describe(const chunk_head& head);  // as a chunk of that length

}  // namespace peerlab::protocol

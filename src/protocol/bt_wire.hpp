#pragma once
// BitTorrent's peer wire protocol (BEP 3), with the fast extension (BEP 6),
// the extension protocol's envelope (BEP 10) and v2 hash messages (BEP 52).
//
// A connection opens with a 68-byte handshake; after it every message is a
// 4-byte big-endian length, then (for a length above 0) a one-byte id and
// the message's fields, all integers big-endian. Like peerlab's frames, the
// length comes first so the receiver can check it before it keeps anything.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/bt_merkle.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

inline constexpr std::string_view protocol_name = "BitTorrent protocol";
inline constexpr std::size_t handshake_bytes = 68;  // 1 + 19 + 8 + 20 + 20
// The block size everyone requests; requests for more than the maximum are
// refused (libtorrent and BEP 3's "clients should refuse over 128 KiB").
inline constexpr std::uint32_t max_request_bytes = 128 * 1024;

using peer_id = std::array<std::uint8_t, 20>;

struct handshake {
  std::array<std::uint8_t, 8> reserved{};
  sha1_digest info_hash{};
  peer_id id{};

  // Reserved bits: what the sender supports.
  bool extension_protocol() const { return (reserved[5] & 0x10) != 0; }  // BEP 10
  bool fast() const { return (reserved[7] & 0x04) != 0; }                // BEP 6
  bool dht() const { return (reserved[7] & 0x01) != 0; }                 // BEP 5
  bool v2_upgrade() const { return (reserved[7] & 0x10) != 0; }          // BEP 52
  void set_extension_protocol() { reserved[5] |= 0x10; }
  void set_fast() { reserved[7] |= 0x04; }
  void set_v2_upgrade() { reserved[7] |= 0x10; }

  bool operator==(const handshake&) const = default;
};

std::array<std::uint8_t, handshake_bytes> encode_handshake(const handshake& h);
// Exactly handshake_bytes bytes with the right protocol string.
result<handshake> decode_handshake(std::span<const std::uint8_t> bytes);

// Which protocol a connection speaks, from its first bytes: BitTorrent's
// handshake starts "\x13BitTorrent protocol", peerlab's first frame is a
// hello (docs/protocol.md §2, §5.1): length 34..98, type 1, flag 1, magic.
enum class first_bytes { need_more, peerlab, bittorrent, neither };
first_bytes classify_first_bytes(std::span<const std::uint8_t> bytes);
std::string_view to_string(first_bytes kind);

enum class message_id : std::uint8_t {
  choke = 0,
  unchoke = 1,
  interested = 2,
  not_interested = 3,
  have = 4,
  bitfield = 5,
  request = 6,
  piece = 7,
  cancel = 8,
  port = 9,
  suggest = 13,  // BEP 6 from here
  have_all = 14,
  have_none = 15,
  reject_request = 16,
  allowed_fast = 17,
  extended = 20,      // BEP 10
  hash_request = 21,  // BEP 52
  hashes = 22,
  hash_reject = 23,
};

struct keepalive {
  bool operator==(const keepalive&) const = default;
};
struct choke {
  bool operator==(const choke&) const = default;
};
struct unchoke {
  bool operator==(const unchoke&) const = default;
};
struct interested {
  bool operator==(const interested&) const = default;
};
struct not_interested {
  bool operator==(const not_interested&) const = default;
};
struct have_all {
  bool operator==(const have_all&) const = default;
};
struct have_none {
  bool operator==(const have_none&) const = default;
};
struct have {
  std::uint32_t piece = 0;
  bool operator==(const have&) const = default;
};
struct suggest {
  std::uint32_t piece = 0;
  bool operator==(const suggest&) const = default;
};
struct allowed_fast {
  std::uint32_t piece = 0;
  bool operator==(const allowed_fast&) const = default;
};
// Bit i (most significant first) says the sender has piece i.
struct bitfield {
  std::vector<std::uint8_t> bits;
  bool operator==(const bitfield&) const = default;
};
struct request {
  std::uint32_t piece = 0, begin = 0, length = 0;
  bool operator==(const request&) const = default;
};
struct cancel {
  std::uint32_t piece = 0, begin = 0, length = 0;
  bool operator==(const cancel&) const = default;
};
struct reject_request {
  std::uint32_t piece = 0, begin = 0, length = 0;
  bool operator==(const reject_request&) const = default;
};
struct piece {
  std::uint32_t index = 0, begin = 0;
  std::vector<std::uint8_t> data;
  bool operator==(const piece&) const = default;
};
struct port {
  std::uint16_t dht_port = 0;  // the sender's DHT (UDP) port
  bool operator==(const port&) const = default;
};
// BEP 10: id 0 is the extension handshake, others what it negotiated.
struct extended {
  std::uint8_t id = 0;
  std::vector<std::uint8_t> payload;
  bool operator==(const extended&) const = default;
};
// BEP 52: `count` hashes from `index` of layer `base` (0 = 16 KiB blocks)
// of the file whose merkle root is `root`, with up to `proof_layers` layers
// of uncle hashes proving them.
struct hash_request {
  sha256_digest root{};
  std::uint32_t base = 0, index = 0, count = 0, proof_layers = 0;
  bool operator==(const hash_request&) const = default;
};
struct hash_reject {
  sha256_digest root{};
  std::uint32_t base = 0, index = 0, count = 0, proof_layers = 0;
  bool operator==(const hash_reject&) const = default;
};
struct hashes {
  sha256_digest root{};
  std::uint32_t base = 0, index = 0, count = 0, proof_layers = 0;
  std::vector<sha256_digest> values;  // the requested ones, then the proof
  bool operator==(const hashes&) const = default;
};
// An id we do not know: skipped (its bytes are not kept), as BEP 3 asks.
struct unknown {
  std::uint8_t id = 0;
  std::uint32_t length = 0;
  bool operator==(const unknown&) const = default;
};

using message =
    std::variant<handshake, keepalive, choke, unchoke, interested, not_interested, have, bitfield,
                 request, piece, cancel, port, suggest, have_all, have_none, reject_request,
                 allowed_fast, extended, hash_request, hashes, hash_reject, unknown>;

// A message with its length prefix, ready to send (a handshake as itself).
// An `unknown` encodes as nothing.
std::vector<std::uint8_t> encode(const message& m);
// A piece message up to its data: length prefix, id, index, begin. Followed
// by `length` data bytes (from sendfile) it is exactly encode(piece{...}).
std::array<std::uint8_t, 13> encode_piece_head(std::uint32_t index, std::uint32_t begin,
                                               std::uint32_t length);

// "request #3 +16384 16384", "have #7", for traces.
std::string describe(const message& m);

}  // namespace peerlab::protocol::bt

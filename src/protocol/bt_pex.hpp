#pragma once
// BEP 11 peer exchange (ut_pex): the payload of a BEP 10 extended message in
// which a peer tells us which peers it connected to (added) and which it lost
// (dropped) since its last message, so a swarm learns its members from its
// members instead of asking the tracker again.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/endpoint.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

// BEP 11 asks for at most 50 added and 50 dropped per message; a peer that
// sends more gets its first max_pex_peers of each list read, the rest
// ignored (not an error: libtorrent is as lenient).
inline constexpr std::size_t max_pex_peers = 200;
// Larger payloads are refused before decoding (libtorrent allows 500 KiB, but
// 200 IPv6 peers in each list take under 8 KiB).
inline constexpr std::size_t max_pex_payload_bytes = 64 * 1024;

// The bits of added.f / added6.f, one byte per added peer (BEP 11).
inline constexpr std::uint8_t pex_prefers_encryption = 0x01;  // its handshake had e=1
inline constexpr std::uint8_t pex_seed = 0x02;                // seed or upload-only
inline constexpr std::uint8_t pex_utp = 0x04;                 // speaks uTP
inline constexpr std::uint8_t pex_holepunch = 0x08;           // speaks ut_holepunch
inline constexpr std::uint8_t pex_reachable = 0x10;  // the sender dialed it: it accepts connections

struct pex_peer {
  endpoint address;
  std::uint8_t flags = 0;
  bool operator==(const pex_peer&) const = default;
};

// IPv4 and IPv6 together; on the wire they are separate keys.
struct pex_message {
  std::vector<pex_peer> added;
  std::vector<endpoint> dropped;
  bool operator==(const pex_message&) const = default;
};

// Compact strings (6 bytes per IPv4 peer, 18 per IPv6: address then port,
// big-endian) under every key, as libtorrent sends them, empty or not:
// added, added.f, added6, added6.f, dropped, dropped6 (sorted, as bencoding
// requires). Writes the first max_pex_peers of each list; IPv4 peers are
// written (and so decoded) before IPv6 ones.
std::vector<std::uint8_t> encode_pex(const pex_message& m);

// Bounded: at most max_pex_payload_bytes, a small token and depth budget, a
// dictionary. A known key that is no string, or a compact string whose length
// is not a multiple of 6 (18 for IPv6), is an error. Addresses that are not
// worth dialing (is_dialable(…, false): port 0, unspecified, multicast,
// broadcast) are skipped; a flags string shorter than its peers leaves the
// missing flags 0, extra flags are ignored; unknown keys are ignored; each
// list keeps its first max_pex_peers addresses, IPv4 before IPv6. Whether an
// address means anything to us (is_meaningful_to, loopback-only nodes) is the
// caller's to check: it knows who sent it.
result<pex_message> decode_pex(std::span<const std::uint8_t> payload);

}  // namespace peerlab::protocol::bt

#pragma once
// BitTorrent trackers: how peers find each other. A peer announces itself
// for an info-hash (HTTP GET /announce?info_hash=…, BEP 3; or two UDP
// datagrams, BEP 15) and gets back other peers of that swarm, compactly as
// 6 (IPv4) or 18 (IPv6) bytes each (BEP 23, BEP 7) or as dictionaries.
// peerlab's HTTP server is a tracker (parse the query, encode the answer);
// its downloads announce to other trackers (build the query or datagram,
// parse the answer).

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/bt_wire.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

inline constexpr std::size_t max_announce_query_bytes = 4096;
inline constexpr std::size_t max_tracker_peers = 2000;  // kept from one answer
inline constexpr std::size_t max_tracker_response_bytes = 1024 * 1024;

enum class announce_event { none, started, completed, stopped, paused };
std::string_view to_string(announce_event e);

struct announce_request {
  sha1_digest info_hash{};
  peer_id peer{};
  std::uint16_t port = 0;
  std::uint64_t uploaded = 0;
  std::uint64_t downloaded = 0;
  std::optional<std::uint64_t> left;  // absent: unknown (counted as a leecher)
  announce_event event = announce_event::none;
  bool compact = false;
  bool no_peer_id = false;
  std::optional<std::uint32_t> numwant;
  std::string ip;   // the address the peer claims (a tracker may ignore it)
  std::string key;  // identifies the peer across IP changes

  bool operator==(const announce_request&) const = default;
};

// The query string of GET /announce (after '?'): info_hash and peer_id are
// exactly 20 bytes each after percent-decoding, port 1..65535, numbers
// decimal without overflow, every key at most once, unknown keys ignored.
result<announce_request> parse_announce_query(std::string_view query);
// The same query, to append to a tracker's announce URL after '?'.
std::string make_announce_query(const announce_request& r);

struct tracker_peer {
  endpoint address;
  std::optional<peer_id> id;  // dictionary model only
  bool operator==(const tracker_peer&) const = default;
};

struct announce_response {
  std::string failure_reason;  // non-empty: nothing else counts
  std::string warning_message;
  std::uint32_t interval = 1800;  // seconds until the next announce
  std::optional<std::uint32_t> min_interval;
  std::optional<std::uint32_t> complete;    // seeders
  std::optional<std::uint32_t> incomplete;  // leechers
  std::vector<tracker_peer> peers;          // IPv4 and IPv6
  bool operator==(const announce_response&) const = default;
};

// compact: `peers` as 6-byte and `peers6` as 18-byte strings (BEP 23, 7);
// otherwise a list of {ip, port[, peer id]} dictionaries.
std::vector<std::uint8_t> encode_announce_response(const announce_response& r, bool compact);
// Either model, both families; at most max_tracker_peers peers are kept,
// peers with a host name instead of an address or port 0 are skipped.
result<announce_response> parse_announce_response(std::span<const std::uint8_t> bytes);

// BEP 48, scrape: GET /scrape?info_hash=…&info_hash=… asks for the counts
// of each torrent. Each info_hash exactly 20 bytes, at most max_scrape_hashes
// of them, other keys ignored; none at all is a full scrape.
inline constexpr std::size_t max_scrape_hashes = 64;
result<std::vector<sha1_digest>> parse_scrape_query(std::string_view query);

struct scrape_entry {
  sha1_digest info_hash{};
  std::uint32_t complete = 0;    // seeders
  std::uint32_t incomplete = 0;  // leechers
  std::uint32_t downloaded = 0;  // completed downloads seen
};
// {"files": {info_hash: {complete, downloaded, incomplete}}}
std::vector<std::uint8_t> encode_scrape_response(std::span<const scrape_entry> entries);

// BEP 15, UDP trackers: connect, then announce with the connection id.
inline constexpr std::uint64_t udp_protocol_id = 0x41727101980;
enum class udp_action : std::uint32_t { connect = 0, announce = 1, scrape = 2, error = 3 };

std::array<std::uint8_t, 16> encode_udp_connect(std::uint32_t transaction_id);

struct udp_announce_request {
  std::uint64_t connection_id = 0;
  std::uint32_t transaction_id = 0;
  announce_request announce;  // ip: "" or an IPv4 address; key: up to 8 hex digits
};
// 98 bytes. An event of `paused` is sent as none (BEP 15 has no code for it).
std::array<std::uint8_t, 98> encode_udp_announce(const udp_announce_request& r);

struct udp_connect_response {
  std::uint32_t transaction_id = 0;
  std::uint64_t connection_id = 0;
};
struct udp_announce_response {
  std::uint32_t transaction_id = 0;
  std::uint32_t interval = 0, leechers = 0, seeders = 0;
  std::vector<endpoint> peers;
};
struct udp_error {
  std::uint32_t transaction_id = 0;
  std::string message;
};
using udp_response = std::variant<udp_connect_response, udp_announce_response, udp_error>;
// peers_family: IPv4 peers (6 bytes) when the tracker was reached over IPv4,
// IPv6 (18 bytes) over IPv6. The caller matches the transaction id.
result<udp_response> parse_udp_response(std::span<const std::uint8_t> datagram,
                                        ip_family peers_family);

}  // namespace peerlab::protocol::bt

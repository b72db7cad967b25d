#pragma once
// An IP address and TCP port as plain bytes, so the protocol layer can carry
// and validate addresses without depending on sockets.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace peerlab::protocol {

enum class ip_family : std::uint8_t { v4 = 4, v6 = 6 };

struct endpoint {
  ip_family family = ip_family::v4;
  std::array<std::uint8_t, 16> ip{};  // network order; IPv4 uses the first 4
  std::uint16_t port = 0;

  auto operator<=>(const endpoint&) const = default;
};

// "127.0.0.1:7070" or "[::1]:7070". Rejects anything else, including a
// missing or out-of-range port.
result<endpoint> parse_endpoint(std::string_view text);
std::string to_string(const endpoint& e);
std::string ip_to_string(const endpoint& e);

bool is_loopback(const endpoint& e);
bool is_unspecified(const endpoint& e);  // 0.0.0.0 or ::
bool is_multicast_or_broadcast(const endpoint& e);

// Whether an address learned from another peer is worth dialing: a real
// unicast address with a port. A node that itself listens on loopback only
// accepts loopback addresses, since it could reach nothing else.
bool is_dialable(const endpoint& e, bool loopback_only);

bool is_link_local(const endpoint& e);  // 169.254.0.0/16, fe80::/10

// How far an address means the same machine: only on this host (loopback),
// only on one link (link-local), or across networks (everything else).
enum class address_scope { host, link, network };
address_scope scope_of(const endpoint& e);

// Whether a node that we see at `peer` could dial `address`: a loopback
// address means another machine to a peer on another host, and a link-local
// one needs the same link (IPv6 link-local needs a zone the wire does not
// carry, so it is never passed on at all). Used both ways: what we tell a
// peer, and what we accept from one.
bool is_meaningful_to(const endpoint& address, const endpoint& peer);

// A --peer value: an IP literal ("10.0.0.5:7070", "[::1]:7070") or a host
// name ("teacher.local:7070"), with a port.
struct host_port {
  std::string host;  // a name in lower case, or an IP literal without brackets
  std::uint16_t port = 0;
  bool is_literal = false;  // then `literal` holds the parsed address
  endpoint literal;
};
result<host_port> parse_host_port(std::string_view text);
std::string to_string(const host_port& h);

// A DNS host name (RFC 1123): labels of letters, digits and hyphens, at most
// 63 bytes each and 253 in all, not starting or ending with a hyphen.
bool is_host_name(std::string_view name);

}  // namespace peerlab::protocol

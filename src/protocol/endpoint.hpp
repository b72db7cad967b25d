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

}  // namespace peerlab::protocol

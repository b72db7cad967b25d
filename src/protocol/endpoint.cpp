#include "protocol/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace peerlab::protocol {

namespace {

std::array<std::uint8_t, 16> v4_mapped_prefix() {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
}

bool is_v4_mapped(const endpoint& e) {
  return e.family == ip_family::v6 &&
         std::equal(e.ip.begin(), e.ip.begin() + 12, v4_mapped_prefix().begin());
}

// The IPv4 address inside e, if it has one (plain or v4-mapped IPv6).
const std::uint8_t* v4_bytes(const endpoint& e) {
  if (e.family == ip_family::v4) return e.ip.data();
  if (is_v4_mapped(e)) return e.ip.data() + 12;
  return nullptr;
}

}  // namespace

result<endpoint> parse_endpoint(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  endpoint e;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return error{"expected [IPv6]:PORT"};
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    e.family = ip_family::v6;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return error{"expected IP:PORT"};
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    e.family = ip_family::v4;
  }
  // inet_pton reads up to a NUL: "::\0junk" must not pass as "::".
  if (host.empty() || host.size() > 45 || host.find('\0') != std::string_view::npos)
    return error{"invalid IP address"};
  const std::string host_z(host);
  const int af = e.family == ip_family::v4 ? AF_INET : AF_INET6;
  if (inet_pton(af, host_z.c_str(), e.ip.data()) != 1) return error{"invalid IP address"};

  unsigned port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc{} || ptr != end || port > 65535) {
    return error{"invalid port"};
  }
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

std::string ip_to_string(const endpoint& e) {
  char text[INET6_ADDRSTRLEN] = {};
  const int af = e.family == ip_family::v4 ? AF_INET : AF_INET6;
  inet_ntop(af, e.ip.data(), text, sizeof text);
  return text;
}

std::string to_string(const endpoint& e) {
  const auto ip = ip_to_string(e);
  const auto port = std::to_string(e.port);
  return e.family == ip_family::v4 ? ip + ":" + port : "[" + ip + "]:" + port;
}

bool is_loopback(const endpoint& e) {
  if (const auto* v4 = v4_bytes(e)) return v4[0] == 127;
  static constexpr std::array<std::uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
  return e.ip == v6_loopback;
}

bool is_unspecified(const endpoint& e) {
  if (const auto* v4 = v4_bytes(e)) return std::all_of(v4, v4 + 4, [](auto b) { return b == 0; });
  return std::all_of(e.ip.begin(), e.ip.end(), [](auto b) { return b == 0; });
}

bool is_multicast_or_broadcast(const endpoint& e) {
  if (const auto* v4 = v4_bytes(e)) {
    const bool broadcast = std::all_of(v4, v4 + 4, [](auto b) { return b == 0xff; });
    return (v4[0] & 0xf0) == 0xe0 || broadcast;
  }
  return e.ip[0] == 0xff;
}

bool is_dialable(const endpoint& e, bool loopback_only) {
  if (e.family != ip_family::v4 && e.family != ip_family::v6) return false;
  if (e.port == 0 || is_unspecified(e) || is_multicast_or_broadcast(e)) return false;
  return !loopback_only || is_loopback(e);
}

}  // namespace peerlab::protocol

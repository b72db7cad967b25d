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

bool is_link_local(const endpoint& e) {
  if (const auto* v4 = v4_bytes(e)) return v4[0] == 169 && v4[1] == 254;
  return e.ip[0] == 0xfe && (e.ip[1] & 0xc0) == 0x80;
}

address_scope scope_of(const endpoint& e) {
  if (is_loopback(e)) return address_scope::host;
  if (is_link_local(e)) return address_scope::link;
  return address_scope::network;
}

bool is_meaningful_to(const endpoint& address, const endpoint& peer) {
  const auto peer_scope = scope_of(peer);
  switch (scope_of(address)) {
    case address_scope::host:
      return peer_scope == address_scope::host;
    case address_scope::link:
      if (!v4_bytes(address)) return false;  // fe80::/10 means nothing without its zone
      return peer_scope != address_scope::network;
    case address_scope::network:
      return true;
  }
  return false;
}

bool is_host_name(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);  // the root: "teacher.local."
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (const char c : name) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else {
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && (c != '-' || label == 0)) return false;
      if (++label > 63) return false;
    }
    previous = c;
  }
  return previous != '-';
}

result<host_port> parse_host_port(std::string_view text) {
  if (auto literal = parse_endpoint(text)) {
    return host_port{ip_to_string(*literal), literal->port, true, *literal};
  } else if (text.starts_with('[')) {
    return error{literal.error_message()};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return error{"expected HOST:PORT"};
  const auto host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos)
    return error{"an IPv6 address goes in brackets, e.g. [::1]:7070"};
  // Only digits and dots: meant as an IPv4 address, and not a valid one.
  if (!host.empty() && host.find_first_not_of("0123456789.") == std::string_view::npos)
    return error{"invalid IP address"};
  if (!is_host_name(host)) return error{"invalid host name"};
  // The port: reuse the literal parser's checks on a stand-in address.
  const auto port = parse_endpoint("0.0.0.0" + std::string(text.substr(colon)));
  if (!port) return error{port.error_message()};
  std::string name(host);
  if (name.ends_with('.')) name.pop_back();
  for (auto& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return host_port{std::move(name), port->port, false, {}};
}

std::string to_string(const host_port& h) {
  if (h.is_literal) return to_string(h.literal);
  return h.host + ":" + std::to_string(h.port);
}

}  // namespace peerlab::protocol

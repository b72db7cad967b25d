#pragma once
// A tracker's announce URL taken apart: which protocol (BEP 3 HTTP, BEP 15
// UDP), which host and port, and for HTTP the path (with any query the
// tracker put there, e.g. a passkey) that the announce query is added to.
// Text from a .torrent or a magnet link: hostile until checked, so nothing
// that could split an HTTP request (spaces, CR, LF) gets through.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

inline constexpr std::size_t max_tracker_url_bytes = 2048;

enum class tracker_scheme { http, https, udp };

struct tracker_url {
  tracker_scheme scheme = tracker_scheme::http;
  std::string host;        // a name in lower case, or an IP literal without brackets
  std::uint16_t port = 0;  // http 80 and https 443 when the URL gives none; udp needs one
  std::string target;      // http(s): "/announce?passkey=x" ("/" when empty); udp: unused
  bool operator==(const tracker_url&) const = default;
};

// "http://tracker.example:6969/announce", "udp://[2001:db8::1]:6969",
// "https://…" (parsed, so the caller can say it is not supported). No user
// info, a host name (RFC 1123) or IP literal, a port 1..65535, a fragment
// dropped; any other scheme is an error that names it.
result<tracker_url> parse_tracker_url(std::string_view url);

// The Host header's value: "host", "host:port" off the default port, and
// IPv6 literals in brackets.
std::string host_header(const tracker_url& u);

// The request target of an HTTP announce: the URL's target with the
// announce query appended after '?', or after '&' when it has a query.
std::string announce_target(const tracker_url& u, std::string_view query);

}  // namespace peerlab::protocol::bt

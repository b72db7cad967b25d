#include "protocol/tracker_url.hpp"

#include <algorithm>

#include "protocol/endpoint.hpp"

namespace peerlab::protocol::bt {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::uint16_t default_port(tracker_scheme s) {
  return s == tracker_scheme::http ? 80 : s == tracker_scheme::https ? 443 : 0;
}

}  // namespace

result<tracker_url> parse_tracker_url(std::string_view url) {
  if (url.size() > max_tracker_url_bytes) return error{"tracker URL longer than 2048 bytes"};
  // Printable ASCII only: a space, CR or LF would end the request line.
  if (!std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return error{"tracker URL with a space, a control character or a non-ASCII byte"};
  const auto separator = url.find("://");
  if (separator == std::string_view::npos)
    return error{"tracker URL without a scheme (http://, udp://)"};
  const auto scheme = lower(url.substr(0, separator));
  tracker_url u;
  if (scheme == "http") {
    u.scheme = tracker_scheme::http;
  } else if (scheme == "https") {
    u.scheme = tracker_scheme::https;
  } else if (scheme == "udp") {
    u.scheme = tracker_scheme::udp;
  } else {
    return error{"unsupported tracker scheme " + scheme + "://"};
  }

  std::string_view rest = url.substr(separator + 3);
  rest = rest.substr(0, rest.find('#'));  // a fragment never goes to the server
  const auto authority_end = std::min(rest.find('/'), rest.find('?'));
  std::string authority(rest.substr(0, authority_end));
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.empty()) return error{"tracker URL without a host"};
  if (authority.find('@') != std::string::npos) return error{"tracker URL with user info"};

  const bool bracketed = authority.starts_with('[');
  const auto close = authority.find(']');
  if (bracketed && close == std::string::npos) return error{"tracker URL with an unclosed ["};
  const bool has_port =
      bracketed ? close + 1 < authority.size() : authority.find(':') != std::string::npos;
  if (!has_port) {
    if (u.scheme == tracker_scheme::udp) return error{"udp tracker URL without a port"};
    authority += ":" + std::to_string(default_port(u.scheme));
  }
  const auto host = parse_host_port(authority);
  if (!host) return error{"tracker URL: " + host.error_message()};
  if (host->port == 0) return error{"tracker URL with port 0"};
  u.host = host->host;
  u.port = host->port;
  u.target = target.empty()            ? "/"
             : target.starts_with('?') ? "/" + std::string(target)
                                       : std::string(target);
  return u;
}

std::string host_header(const tracker_url& u) {
  std::string out = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (u.port != default_port(u.scheme)) out += ":" + std::to_string(u.port);
  return out;
}

std::string announce_target(const tracker_url& u, std::string_view query) {
  std::string out = u.target;
  if (out.find('?') == std::string::npos) {
    out += '?';
  } else if (!out.ends_with('?') && !out.ends_with('&')) {
    out += '&';
  }
  out += query;
  return out;
}

}  // namespace peerlab::protocol::bt

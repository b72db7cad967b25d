#include "http/host_check.hpp"

#include <algorithm>

#include "http/text.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::http {

namespace {

// The host part of a Host value: "name", "name:port", "1.2.3.4:80", "[::1]:80".
std::optional<std::string> host_part(std::string_view value) {
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(value.substr(0, close + 1));
  }
  return std::string(value.substr(0, value.find(':')));
}

bool is_this_node(const std::string& host, const request& req,
                  const std::vector<std::string>& names) {
  if (const auto ip = protocol::parse_endpoint(host + ":0")) {
    const bool same_address = ip->family == req.local.family && ip->ip == req.local.ip;
    const auto text = protocol::ip_to_string(*ip);  // canonical: "::1", "10.0.0.5"
    return same_address || protocol::is_loopback(*ip) ||
           std::find(names.begin(), names.end(), text) != names.end();
  }
  auto name = to_lower(host);
  if (name.ends_with('.')) name.pop_back();  // "localhost." is "localhost"
  // RFC 6761: browsers resolve *.localhost to loopback themselves.
  if (name == "localhost" || name.ends_with(".localhost")) return true;
  return !name.empty() && std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::optional<response> check_host_and_origin(const request& req,
                                              const std::vector<std::string>& names) {
  const auto* host = req.header("host");
  if (!host) {
    // HTTP/1.1 requires Host (RFC 9112 §3.2); HTTP/1.0 clients may omit it.
    if (req.version_minor >= 1) return error_response(400, "the Host header is missing");
  } else {
    const auto part = host_part(*host);
    if (!part || !is_this_node(*part, req, names)) {
      // Name the flag, and the name when it is one (never echo arbitrary bytes).
      auto name = part ? to_lower(*part) : std::string();
      if (name.starts_with('[')) name = name.substr(1, name.size() - 2);
      const bool printable = protocol::is_host_name(name) ||
                             protocol::parse_endpoint("[" + name + "]:0") ||
                             protocol::parse_endpoint(name + ":0");
      return error_response(403, "the Host header does not name this node; to allow " +
                                     (printable ? name : std::string("a name")) +
                                     ", start the node with --allow-host " +
                                     (printable ? name : std::string("NAME")));
    }
  }
  const bool safe = req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS";
  const auto* origin = req.header("origin");
  if (!safe && origin) {
    // Same-origin pages send Origin: http://<the Host they asked for>.
    if (!host || to_lower(*origin) != "http://" + to_lower(*host)) {
      return error_response(403, "requests from another site's page are refused");
    }
  }
  return std::nullopt;
}

}  // namespace peerlab::http

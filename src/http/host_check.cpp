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
    return same_address || protocol::is_loopback(*ip);
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
      return error_response(403, "the Host header does not name this node");
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

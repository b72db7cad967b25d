#include "http/api.hpp"

#include "protocol/endpoint.hpp"

namespace peerlab::http {

using nlohmann::json;

json status_json(const api_context& ctx) {
  const auto s = ctx.node.status();
  return {{"id", s.id},
          {"name", s.name},
          {"listen", protocol::to_string(s.listen)},
          {"http", protocol::to_string(ctx.http)},
          {"connections", s.connections},
          {"handshakes", s.handshakes},
          {"known_peers", s.known_peers},
          {"bytes_up", s.bytes_sent},
          {"bytes_down", s.bytes_received},
          {"uptime_seconds", s.uptime_seconds}};
}

json peers_json(const peer::node& node) {
  json out = json::array();
  for (const auto& c : node.connections()) {
    out.push_back({{"id", c.id},
                   {"name", c.name},
                   {"address", protocol::to_string(c.address)},
                   {"direction", peer::to_string(c.dir)},
                   {"local", protocol::to_string(c.local)},
                   {"remote", protocol::to_string(c.remote)},
                   {"bytes_up", c.bytes_sent},
                   {"bytes_down", c.bytes_received},
                   {"connected_seconds", c.connected_seconds}});
  }
  return out;
}

json known_peers_json(const peer::node& node) {
  json out = json::array();
  for (const auto& k : node.known_peers()) {
    out.push_back({{"address", protocol::to_string(k.address)},
                   {"state", k.state},
                   {"configured", k.configured},
                   {"failures", k.failures}});
  }
  return out;
}

response handle_api(const api_context& ctx, const request& req) {
  using builder = json (*)(const api_context&);
  static const std::pair<std::string_view, builder> routes[] = {
      {"/api/status", status_json},
      {"/api/peers", [](const api_context& c) { return peers_json(c.node); }},
      {"/api/known-peers", [](const api_context& c) { return known_peers_json(c.node); }},
  };
  for (const auto& [path, build] : routes) {
    if (req.path() != path) continue;
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = error_response(405, "method not allowed");
      r.set_header("Allow", "GET, HEAD");
      return r;
    }
    return json_response(200, build(ctx).dump());
  }
  return error_response(404, "no such endpoint");
}

}  // namespace peerlab::http

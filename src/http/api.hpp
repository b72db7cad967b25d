#pragma once
// The JSON API under /api/: the same data the CLI prints, read from the node
// through its public interface.

#include <nlohmann/json.hpp>

#include "http/request.hpp"
#include "http/response.hpp"
#include "peer/node.hpp"

namespace peerlab::http {

struct api_context {
  const peer::node& node;
  protocol::endpoint http;  // where this HTTP server listens
};

nlohmann::json status_json(const api_context& ctx);
nlohmann::json peers_json(const peer::node& node);
nlohmann::json known_peers_json(const peer::node& node);

// Routes one request; unknown paths get 404, wrong methods 405.
response handle_api(const api_context& ctx, const request& req);

}  // namespace peerlab::http

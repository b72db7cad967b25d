#pragma once
// The JSON API under /api/: the same data the CLI prints, read from the node
// through its public interface, and the actions (share, get), which need the
// node's bearer token.

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/request.hpp"
#include "http/response.hpp"
#include "http/server.hpp"
#include "peer/node.hpp"

namespace peerlab::http {

struct api_context {
  peer::node& node;
  protocol::endpoint http;                              // where this HTTP server listens
  std::string token;                                    // required for POST
  std::vector<std::string> host_names = {"localhost"};  // Host values that mean us
  const server* web = nullptr;                          // for /api/http: its own sockets
};

nlohmann::json status_json(const api_context& ctx);
nlohmann::json peers_json(const peer::node& node);
nlohmann::json known_peers_json(const peer::node& node);
nlohmann::json files_json(const peer::node& node);
nlohmann::json transfer_json(const peer::transfer_info& t, bool with_chunks);
nlohmann::json http_json(const server& web);
nlohmann::json trace_json(const peer::trace_log& trace, std::uint64_t after);

// Whether a request carries this node's API token (constant-time compare).
bool authorized(const api_context& ctx, const request& req);

// Routes one request; unknown paths get 404, wrong methods 405, actions
// without the token 401.
asio::awaitable<response> handle_api(const api_context& ctx, request req);

}  // namespace peerlab::http

#pragma once
// Everything the node serves over HTTP, routed by path:
//   /          the live dashboard (one self-contained page)
//   /api/...   the JSON API (reads, and token-protected actions)
//   /files/ID  complete files, client-server style
// Every request first passes the Host and Origin checks (host_check.hpp).

#include <asio/awaitable.hpp>

#include "http/api.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace peerlab::http {

asio::awaitable<response> handle_request(const api_context& ctx, request req);

}  // namespace peerlab::http

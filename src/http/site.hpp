#pragma once
// Everything the node serves over HTTP, routed by path:
//   /          the live dashboard (one self-contained page)
//   /api/...   the JSON API (reads, and token-protected actions)
//   /files/ID  complete files, client-server style
//   /announce  a BitTorrent tracker (and /scrape), for any info-hash
// Every request first passes the Host and Origin checks (host_check.hpp).

#include <asio/awaitable.hpp>
#include <optional>

#include "http/api.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace peerlab::http {

asio::awaitable<response> handle_request(const api_context& ctx, request req);

// Looks at a request's head before its body is read (server_settings::screen):
// the Host and Origin checks, and the token of an action, so that a POST
// without it is answered 401 without a byte of its body read or kept.
std::optional<response> screen_request(const api_context& ctx, const request& head);

}  // namespace peerlab::http

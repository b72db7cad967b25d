#include "http/site.hpp"

#include "http/dashboard.hpp"
#include "http/file_route.hpp"
#include "http/host_check.hpp"
#include "http/tracker_route.hpp"

namespace peerlab::http {

namespace {

response dashboard(const request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = error_response(405, "method not allowed");
    r.set_header("Allow", "GET, HEAD");
    return r;
  }
  response r;
  r.set_header("Content-Type", "text/html; charset=utf-8");
  r.set_header("Cache-Control", "no-cache");
  // The page is self-contained: it may talk only to this node, and no other
  // site may frame it.
  r.set_header("Content-Security-Policy",
               "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src data:; connect-src 'self'; frame-ancestors 'none'");
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Referrer-Policy", "no-referrer");
  r.body = dashboard_page();
  return r;
}

}  // namespace

std::optional<response> screen_request(const api_context& ctx, const request& head) {
  if (auto refusal = check_host_and_origin(head, ctx.host_names)) return refusal;
  const auto path = head.path();
  if ((path == "/api/share" || path == "/api/get") && head.method == "POST" &&
      !authorized(ctx, head)) {
    return error_response(401, "missing or wrong API token");
  }
  return std::nullopt;
}

asio::awaitable<response> handle_request(const api_context& ctx, request req) {
  if (auto refusal = check_host_and_origin(req, ctx.host_names)) co_return std::move(*refusal);
  const auto path = req.path();
  if (path == "/") co_return dashboard(req);
  if (path.starts_with("/files/")) co_return serve_file(ctx.node.transfers(), req);
  if (path == "/announce" || path == "/scrape") {
    co_return serve_tracker(ctx.node.tracker(), req, ctx.node.listen_endpoint(),
                            std::chrono::steady_clock::now());
  }
  if (path.starts_with("/api/")) {
    auto answer = handle_api(ctx, std::move(req));  // named: see server.cpp on GCC 12
    co_return co_await std::move(answer);
  }
  co_return error_response(404, "no such page");
}

}  // namespace peerlab::http

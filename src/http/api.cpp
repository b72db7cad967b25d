#include "http/api.hpp"

#include <charconv>
#include <filesystem>

#include "http/folder_route.hpp"
#include "http/torrent_route.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::http {

using nlohmann::json;
namespace fs = std::filesystem;

json status_json(const api_context& ctx) {
  const auto s = ctx.node.status();
  auto& tracker = ctx.node.tracker();
  tracker.expire(std::chrono::steady_clock::now());
  const auto t = tracker.stats();
  json folders = json::array();  // the folders this node shares or downloads
  for (const auto& f : ctx.node.transfers().files()) {
    if (f.folder && !f.local.empty())
      folders.push_back({{"id", f.id},
                         {"name", f.name},
                         {"size", f.size},
                         {"files", f.file_count},
                         {"local", f.local}});
  }
  return {{"id", s.id},
          {"name", s.name},
          {"listen", protocol::to_string(s.listen)},
          {"http", protocol::to_string(ctx.http)},
          {"lan_discovery", s.lan_discovery},
          {"connections", s.connections},
          {"handshakes", s.handshakes},
          {"known_peers", s.known_peers},
          {"bytes_up", s.bytes_sent},
          {"bytes_down", s.bytes_received},
          {"uptime_seconds", s.uptime_seconds},
          {"tracker", {{"torrents", t.torrents}, {"peers", t.peers}, {"seeders", t.seeders}}},
          {"folders", folders}};
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
                   {"connected_seconds", c.connected_seconds},
                   {"app_queue", c.queued_bytes},
                   {"send_queue", c.kernel.send},
                   {"receive_queue", c.kernel.receive},
                   {"protocol", c.protocol},
                   {"client", c.client.empty() ? json(nullptr) : json(c.client)},
                   {"torrent", c.torrent.empty() ? json(nullptr) : json(c.torrent)}});
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

json files_json(const peer::node& node) {
  json out = json::array();
  for (const auto& f : node.transfers().files()) {
    out.push_back({{"id", f.id},
                   {"name", f.name},
                   {"size", f.size},
                   {"holders", f.holders},
                   {"local", f.local.empty() ? json(nullptr) : json(f.local)},
                   {"chunks", f.local.empty() ? json(nullptr) : json(f.chunks)},
                   {"chunk_size", f.local.empty() ? json(nullptr) : json(f.chunk_size)},
                   {"bittorrent", bittorrent_json(f)},
                   {"folder", f.folder}});
    if (f.folder && !f.local.empty()) out.back()["files"] = f.file_count;
  }
  return out;
}

json transfer_json(const peer::transfer_info& t, bool with_chunks) {
  json j = {{"id", t.id},
            {"name", t.name},
            {"size", t.size},
            {"output", t.output},
            {"state", t.state},
            {"error", t.error.empty() ? json(nullptr) : json(t.error)},
            {"bytes_done", t.bytes_done},
            {"chunks_done", t.chunks_done},
            {"chunks_total", t.chunks_total},
            {"chunks_resumed", t.chunks_resumed},
            {"chunks_fetched", t.chunks_fetched},
            {"chunks_rejected", t.chunks_rejected},
            {"rate", t.rate},
            {"peers", t.peers},
            {"eta_seconds", t.eta_seconds ? json(*t.eta_seconds) : json(nullptr)},
            {"sources", t.sources}};
  if (with_chunks) {
    j["chunk_sources"] = t.chunk_sources;
    j["chunk_map"] = t.chunk_map;
  }
  j["folder"] = t.folder;
  if (t.folder && with_chunks) j["files"] = folder_files_json(t.files);
  j["protocol"] = t.protocol;
  if (!t.trackers.empty()) {
    const auto now = std::chrono::steady_clock::now();
    json trackers = json::array();
    for (const auto& tr : t.trackers) {
      const auto next = std::chrono::duration<double>(tr.next_announce - now).count();
      trackers.push_back({{"url", tr.url},
                          {"state", tr.state},
                          {"error", tr.error.empty() ? json(nullptr) : json(tr.error)},
                          {"peers", tr.peers},
                          {"seeders", tr.seeders ? json(*tr.seeders) : json(nullptr)},
                          {"leechers", tr.leechers ? json(*tr.leechers) : json(nullptr)},
                          {"next_announce_seconds", std::max(0.0, next)}});
    }
    j["trackers"] = trackers;
  }
  return j;
}

namespace {

json client_json(const client_info& c) {
  return {{"local", protocol::to_string(c.local)},
          {"remote", protocol::to_string(c.remote)},
          {"requests", c.requests},
          {"bytes_up", c.bytes_sent},
          {"connected_seconds", c.connected_seconds},
          {"state", c.state},
          {"send_queue", c.send_queue},
          {"receive_queue", c.receive_queue}};
}

}  // namespace

json http_json(const server& web) {
  json clients = json::array();
  for (const auto& c : web.clients())
    clients.push_back(client_json(c));
  json closed = json::array();
  for (const auto& c : web.recently_closed())
    closed.push_back(client_json(c));
  const auto& stats = web.stats();
  return {{"listen", protocol::to_string(web.local_endpoint())},
          {"connections_accepted", stats.connections_accepted},
          {"requests_served", stats.requests_served},
          {"bytes_up", stats.bytes_sent},
          {"clients", clients},
          {"recently_closed", closed}};
}

json trace_json(const peer::trace_log& trace, std::uint64_t after) {
  json events = json::array();
  for (const auto& e : trace.after(after)) {
    events.push_back({{"seq", e.seq},
                      {"time", e.time},
                      {"direction", e.sent ? "sent" : "received"},
                      {"local", e.local},
                      {"remote", e.remote},
                      {"peer", e.peer},
                      {"type", e.type},
                      {"bytes", e.bytes},
                      {"detail", e.detail}});
  }
  return {{"last", trace.last_seq()}, {"events", events}};
}

namespace {

// A number in the query string, as in /api/trace?after=N (0 when absent or
// malformed).
std::uint64_t query_number(std::string_view target, std::string_view name) {
  const auto query = target.find('?');
  if (query == std::string_view::npos) return 0;
  for (auto rest = target.substr(query + 1); !rest.empty();) {
    const auto end = std::min(rest.find('&'), rest.size());
    const auto field = rest.substr(0, end);
    if (field.size() > name.size() && field.starts_with(name) && field[name.size()] == '=') {
      std::uint64_t value = 0;
      const auto digits = field.substr(name.size() + 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
      return value;
    }
    rest = rest.substr(std::min(end + 1, rest.size()));
  }
  return 0;
}

// GET /api/transfers/ID?wait=MS answers once the transfer ends, or after MS
// (at most this long, well within the server's request deadline).
constexpr std::uint64_t max_wait_ms = 5000;

}  // namespace

// Bearer token check for actions: constant-time, so timing leaks nothing.
bool authorized(const api_context& ctx, const request& req) {
  const auto* header = req.header("authorization");
  const std::string expected = "Bearer " + ctx.token;
  if (!header || header->size() != expected.size() || ctx.token.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= (*header)[i] ^ expected[i];
  return diff == 0;
}

namespace {

asio::awaitable<response> share(const api_context& ctx, const json& body) {
  if (!body.contains("path") || !body["path"].is_string()) {
    co_return error_response(400, "expected {\"path\": \"/absolute/file\"}");
  }
  const fs::path path = body["path"].get<std::string>();
  if (!path.is_absolute()) co_return error_response(400, "the path must be absolute");
  auto id = co_await ctx.node.transfers().share(path);
  if (!id) co_return error_response(400, id.error_message());
  const auto info = ctx.node.transfers().files();
  json reply = {{"id", protocol::to_hex(*id)}};
  for (const auto& f : info) {
    if (f.id == reply["id"]) reply.update({{"name", f.name}, {"size", f.size}});
  }
  // Names come from peers: invalid UTF-8 is replaced, never an exception.
  co_return json_response(200, reply.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string text_field(const json& body, const char* key) {
  return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
}

// Where a get's file goes: "" if the body says it well, else why not.
std::string target_problem(const fs::path& output, const fs::path& directory) {
  if ((!output.empty() && !output.is_absolute()) ||
      (!directory.empty() && !directory.is_absolute())) {
    return "output and directory must be absolute paths";
  }
  if (output.empty() && directory.empty()) return "give an output or a directory";
  return "";
}

// {"torrent_file": "/abs/x.torrent", "output" | "directory": ...}
// `only` (a multi-file torrent's or a folder's parts): a list of paths, or an error.
std::optional<std::vector<std::string>> only_paths(const json& body) {
  std::vector<std::string> only;
  if (!body.contains("only")) return only;
  if (!body["only"].is_array()) return std::nullopt;
  for (const auto& p : body["only"]) {
    if (!p.is_string()) return std::nullopt;
    only.push_back(p.get<std::string>());
  }
  return only;
}

asio::awaitable<response> get_torrent(const api_context& ctx, const json& body) {
  const fs::path torrent = text_field(body, "torrent_file");
  const fs::path output = text_field(body, "output");
  const fs::path directory = text_field(body, "directory");
  if (!torrent.is_absolute())
    co_return error_response(400, "torrent_file must be an absolute path");
  if (const auto problem = target_problem(output, directory); !problem.empty())
    co_return error_response(400, problem);
  auto only = only_paths(body);
  if (!only) co_return error_response(400, "only must be a list of paths");
  auto getting = ctx.node.transfers().get_torrent(torrent, output, directory, std::move(*only));
  auto id = co_await std::move(getting);
  if (!id) co_return error_response(400, id.error_message());
  co_return json_response(200, json{{"id", protocol::to_hex(*id)}}.dump());
}

response get(const api_context& ctx, const json& body) {
  if (!body.contains("id") || !body["id"].is_string()) {
    return error_response(400, "expected {\"id\": \"...\", \"output\": ..., \"directory\": ...}");
  }
  const fs::path output = text_field(body, "output");
  const fs::path directory = text_field(body, "directory");
  if (const auto problem = target_problem(output, directory); !problem.empty())
    return error_response(400, problem);
  const auto wanted = text_field(body, "id");
  if (wanted.starts_with("magnet:")) {
    auto only = only_paths(body);
    if (!only) return error_response(400, "only must be a list of paths");
    auto id = ctx.node.transfers().get_magnet(wanted, output, directory, std::move(*only));
    if (!id) return error_response(400, id.error_message());
    return json_response(200, json{{"id", protocol::to_hex(*id)}}.dump());
  }
  const bool hex = wanted.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex || wanted.size() < 8 || wanted.size() > 64) {
    return error_response(
        400, "a content id is 64 lowercase hex digits (or a unique prefix of at least 8)");
  }
  if (ctx.node.transfers().matches(wanted).size() > 1) {
    return error_response(400,
                          "more than one content id starts with " + wanted + "; give more digits");
  }
  std::vector<std::string> only;
  if (body.contains("only")) {
    if (!body["only"].is_array()) return error_response(400, "only must be a list of paths");
    for (const auto& p : body["only"]) {
      if (!p.is_string()) return error_response(400, "only must be a list of paths");
      only.push_back(p.get<std::string>());
    }
  }
  auto id = ctx.node.transfers().get(wanted, output, directory, std::move(only));
  if (!id) return error_response(404, id.error_message());
  return json_response(200, json{{"id", protocol::to_hex(*id)}}.dump());
}

response method_not_allowed(const char* allow) {
  auto r = error_response(405, "method not allowed");
  r.set_header("Allow", allow);
  return r;
}

}  // namespace

asio::awaitable<response> handle_api(const api_context& ctx, request req) {
  const auto path = std::string(req.path());
  const bool read = req.method == "GET" || req.method == "HEAD";

  if (path == "/api/share" || path == "/api/get") {
    if (req.method != "POST") co_return method_not_allowed("POST");
    // Actions change the node: only with its token, and never a side effect without.
    if (!authorized(ctx, req)) co_return error_response(401, "missing or wrong API token");
    const auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) co_return error_response(400, "the body must be a JSON object");
    if (path == "/api/share") co_return co_await share(ctx, body);
    if (body.contains("torrent_file")) co_return co_await get_torrent(ctx, body);
    co_return get(ctx, body);
  }

  json reply;
  if (path == "/api/status") {
    reply = status_json(ctx);
  } else if (path == "/api/peers") {
    reply = peers_json(ctx.node);
  } else if (path == "/api/known-peers") {
    reply = known_peers_json(ctx.node);
  } else if (path == "/api/http" && ctx.web) {
    reply = http_json(*ctx.web);
    reply["asking"] = protocol::to_string(req.remote);  // the socket this request came on
  } else if (path == "/api/trace") {
    reply = trace_json(ctx.node.trace(), query_number(req.target, "after"));
  } else if (path == "/api/files") {
    reply = files_json(ctx.node);
  } else if (is_torrent_route(path)) {
    if (!read) co_return method_not_allowed("GET, HEAD");
    co_return co_await torrent_route(ctx, req);
  } else if (path == "/api/transfers") {
    reply = json::array();
    for (const auto& t : ctx.node.transfers().transfers())
      reply.push_back(transfer_json(t, false));
  } else if (path.starts_with("/api/folders/")) {
    const auto id = ctx.node.transfers().resolve(path.substr(std::string("/api/folders/").size()));
    const auto* folder = id ? ctx.node.transfers().folder(*id) : nullptr;
    if (!folder) {
      co_return error_response(404, "this node has no such folder (get it first: peerlab get ID)");
    }
    reply = folder_json(ctx.node.transfers(), *folder);
  } else if (path.starts_with("/api/transfers/")) {
    const auto id =
        ctx.node.transfers().resolve(path.substr(std::string("/api/transfers/").size()));
    if (const auto wait = std::min(query_number(req.target, "wait"), max_wait_ms); id && wait > 0) {
      co_await ctx.node.transfers().wait_for_end(*id, std::chrono::milliseconds(wait));
    }
    const auto t = id ? ctx.node.transfers().transfer(*id) : std::nullopt;
    if (!t) co_return error_response(404, "no such transfer");
    reply = transfer_json(*t, true);
  } else {
    co_return error_response(404, "no such endpoint");
  }
  if (!read) co_return method_not_allowed("GET, HEAD");
  // Names come from peers: invalid UTF-8 is replaced, never an exception.
  co_return json_response(200, reply.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace peerlab::http

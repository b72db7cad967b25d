#include "http/torrent_route.hpp"

#include "protocol/hex.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::http {

namespace bt = protocol::bt;
using nlohmann::json;

namespace {

constexpr std::string_view torrent_suffix = "/torrent";
constexpr std::size_t max_tracker_url_bytes = 1024;

}  // namespace

std::optional<std::string> torrent_query(std::string_view target, std::string_view name) {
  const auto query = target.find('?');
  if (query == std::string_view::npos) return std::nullopt;
  for (auto rest = target.substr(query + 1); !rest.empty();) {
    const auto end = std::min(rest.find('&'), rest.size());
    const auto field = rest.substr(0, end);
    if (field.size() > name.size() && field.starts_with(name) && field[name.size()] == '=')
      return protocol::percent_decode(field.substr(name.size() + 1), max_tracker_url_bytes, true);
    rest = rest.substr(std::min(end + 1, rest.size()));
  }
  return std::nullopt;
}

std::optional<bt::torrent_format> torrent_format_named(std::string_view name) {
  for (const auto f : {bt::torrent_format::hybrid, bt::torrent_format::v1, bt::torrent_format::v2})
    if (bt::to_string(f) == name) return f;
  return std::nullopt;
}

// This node's tracker: where its HTTP server listens (or, listening on every
// interface, the address the asker reached it at).
std::string own_tracker(const api_context& ctx, const request& req) {
  const auto* host = req.header("host");
  if (protocol::is_unspecified(ctx.http) && host && !host->empty())
    return "http://" + *host + "/announce";
  return "http://" + protocol::to_string(ctx.http) + "/announce";
}

response torrent_download(const protocol::content_id& id, bt::torrent_format format,
                          const std::vector<std::uint8_t>& bytes) {
  response r;
  r.body.assign(bytes.begin(), bytes.end());
  r.set_header("Content-Type", "application/x-bittorrent");
  const auto suffix =
      format == bt::torrent_format::hybrid ? "" : "." + std::string(bt::to_string(format));
  r.set_header(
      "Content-Disposition",
      "attachment; filename=\"" + protocol::to_hex(id).substr(0, 16) + suffix + ".torrent\"");
  return r;
}

asio::awaitable<response> torrent_route(const api_context& ctx, const request& req) {
  const auto path = req.path();
  const auto wanted =
      path.substr(torrent_route_prefix.size(),
                  path.size() - torrent_route_prefix.size() - torrent_suffix.size());
  const auto id = ctx.node.transfers().resolve(std::string(wanted));
  if (id && ctx.node.transfers().folder(*id)) {
    auto answer = folder_torrent_response(ctx, req, *id);
    co_return co_await std::move(answer);
  }
  co_return torrent_response(ctx, req);
}

bool is_torrent_route(std::string_view path) {
  return path.starts_with(torrent_route_prefix) && path.ends_with(torrent_suffix) &&
         path.size() > torrent_route_prefix.size() + torrent_suffix.size();
}

response torrent_response(const api_context& ctx, const request& req) {
  const auto path = req.path();
  const auto wanted =
      path.substr(torrent_route_prefix.size(),
                  path.size() - torrent_route_prefix.size() - torrent_suffix.size());
  const auto id = ctx.node.transfers().resolve(std::string(wanted));
  const peer::content* item = nullptr;
  if (id) {
    const auto& items = ctx.node.transfers().storage().items();
    if (const auto it = items.find(*id); it != items.end()) item = &it->second;
  }
  if (!item || !item->complete) return error_response(404, "no complete file of that id here");
  if (!item->bt) {
    return error_response(409, "its BitTorrent hashes are not ready yet; try again in a moment");
  }
  // A file fetched from a torrent has that torrent only: it is the default.
  const auto fallback = item->bt->has(bt::torrent_format::hybrid) ? bt::torrent_format::hybrid
                                                                  : item->bt->formats.front();
  const auto format = torrent_format_named(
      torrent_query(req.target, "format").value_or(std::string(bt::to_string(fallback))));
  if (!format) return error_response(400, "format must be hybrid, v1 or v2");
  if (!item->bt->has(*format))
    return error_response(404,
                          "this file has no " + std::string(bt::to_string(*format)) + " torrent");
  const auto tracker = torrent_query(req.target, "tracker").value_or(own_tracker(ctx, req));
  auto built = item->bt->torrent(*format, tracker);
  if (!built) return error_response(500, built.error_message());
  if (torrent_query(req.target, "download") == "1")
    return torrent_download(item->id, *format, built->bytes);
  json reply = {{"id", protocol::to_hex(item->id)},
                {"name", item->bt->name},
                {"format", bt::to_string(*format)},
                {"announce", tracker},
                {"magnet", item->bt->magnet(*format, tracker)},
                {"info_hash", protocol::to_hex(built->hashes.wire_id())},
                {"torrent", protocol::to_hex(built->bytes)}};
  if (built->hashes.v1) reply["btih"] = protocol::to_hex(*built->hashes.v1);
  if (built->hashes.v2) reply["btmh"] = protocol::to_hex(*built->hashes.v2);
  return json_response(200, reply.dump(-1, ' ', false, json::error_handler_t::replace));
}

json bittorrent_json(const peer::file_info& f) {
  if (f.folder) return folder_bittorrent_json(f);
  if (!f.bt) return nullptr;
  // A share has all three torrents; a file downloaded from a torrent, that one.
  const auto link = "/api/files/" + f.id + "/torrent?download=1&format=";
  json j = json::object();
  for (const auto format : f.bt->formats) {
    const auto& hashes = f.bt->of(format).hashes;
    const auto name = std::string(bt::to_string(format));
    json entry = {{"torrent", link + name}};
    if (hashes.v1) entry["btih"] = protocol::to_hex(*hashes.v1);
    if (hashes.v2) entry["btmh"] = protocol::to_hex(*hashes.v2);
    j[name] = entry;
  }
  const auto preferred =
      f.bt->has(bt::torrent_format::hybrid) ? bt::torrent_format::hybrid : f.bt->formats.front();
  j["magnet"] = f.bt->magnet(preferred, "");
  return j;
}

}  // namespace peerlab::http

#pragma once
// GET /api/files/ID/torrent?format=hybrid|v1|v2[&tracker=URL][&download=1]:
// a shared file, or folder, as a BitTorrent torrent. As JSON (the CLI's `peerlab
// torrent`): its info-hashes, magnet link and the .torrent's bytes in hex;
// with download=1, the .torrent file itself (the dashboard's link). The
// announce URL is this node's tracker unless `tracker` names another.

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "http/api.hpp"

namespace peerlab::http {

inline constexpr std::string_view torrent_route_prefix = "/api/files/";

// True if `path` is /api/files/ID/torrent (the route below answers it).
bool is_torrent_route(std::string_view path);
// A file's torrent, or a folder's (folder_torrent_route.cpp: its hashes may
// have to be computed first, on the disk layer).
asio::awaitable<response> torrent_route(const api_context& ctx, const request& req);
response torrent_response(const api_context& ctx, const request& req);
asio::awaitable<response> folder_torrent_response(const api_context& ctx, const request& req,
                                                  protocol::content_id id);

// A file's (or folder's) info-hashes for `files --json` and the dashboard
// (null if it has none).
nlohmann::json bittorrent_json(const peer::file_info& f);
nlohmann::json folder_bittorrent_json(const peer::file_info& f);

// Shared by both routes: a query parameter, percent-decoded (nullopt when
// absent or malformed); the format it names; this node's tracker URL.
std::optional<std::string> torrent_query(std::string_view target, std::string_view name);
std::optional<protocol::bt::torrent_format> torrent_format_named(std::string_view name);
std::string own_tracker(const api_context& ctx, const request& req);
// The .torrent itself (download=1): a file named after the id and format.
response torrent_download(const protocol::content_id& id, protocol::bt::torrent_format format,
                          const std::vector<std::uint8_t>& bytes);

}  // namespace peerlab::http

#pragma once
// GET /api/files/ID/torrent?format=hybrid|v1|v2[&tracker=URL][&download=1]:
// a shared file as a BitTorrent torrent. As JSON (the CLI's `peerlab
// torrent`): its info-hashes, magnet link and the .torrent's bytes in hex;
// with download=1, the .torrent file itself (the dashboard's link). The
// announce URL is this node's tracker unless `tracker` names another.

#include <nlohmann/json.hpp>

#include "http/api.hpp"

namespace peerlab::http {

inline constexpr std::string_view torrent_route_prefix = "/api/files/";

// True if `path` is /api/files/ID/torrent (the route below answers it).
bool is_torrent_route(std::string_view path);
response torrent_response(const api_context& ctx, const request& req);

// A file's info-hashes for `files --json` and the dashboard (null if it has none).
nlohmann::json bittorrent_json(const peer::file_info& f);

}  // namespace peerlab::http

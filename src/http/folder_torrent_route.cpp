// GET /api/files/ID/torrent for a folder: its multi-file torrent (v1 with
// BEP 47 pad files, v2 or hybrid), as JSON or (download=1) the file itself.

#include "http/torrent_route.hpp"
#include "peer/folder_torrent.hpp"
#include "protocol/hex.hpp"

namespace peerlab::http {

namespace bt = protocol::bt;
using nlohmann::json;

asio::awaitable<response> folder_torrent_response(const api_context& ctx, const request& req,
                                                  protocol::content_id id) {
  const auto format = torrent_format_named(torrent_query(req.target, "format").value_or("hybrid"));
  if (!format) co_return error_response(400, "format must be hybrid, v1 or v2");
  auto& swarm = ctx.node.transfers();
  // A folder recorded without its hashes is hashed now (once): this waits.
  auto hashing = swarm.folder_bt(id);
  auto hashes = co_await std::move(hashing);
  if (!hashes) co_return error_response(409, hashes.error_message());
  const auto* record = swarm.folder(id);
  if (!record) co_return error_response(404, "this node has no such folder");
  auto with_hashes = *record;  // the hashes just made, even if the folder changed meanwhile
  with_hashes.bt = *hashes;
  const auto tracker = torrent_query(req.target, "tracker").value_or(own_tracker(ctx, req));
  auto built = peer::make_folder_torrent(with_hashes, *format, tracker);
  if (!built) co_return error_response(409, built.error_message());
  if (torrent_query(req.target, "download") == "1")
    co_return torrent_download(id, *format, built->torrent.bytes);
  json files = json::array();
  for (const auto& f : built->files) {
    if (f.pad) continue;
    std::string path;
    for (const auto& segment : f.path)
      path += (path.empty() ? "" : "/") + segment;
    files.push_back({{"path", path}, {"size", f.length}, {"offset", f.offset}});
  }
  const auto& h = built->torrent.hashes;
  json reply = {{"id", protocol::to_hex(id)},
                {"name", record->manifest.name},
                {"folder", true},
                {"format", bt::to_string(*format)},
                {"announce", tracker},
                {"magnet", built->magnet},
                {"info_hash", protocol::to_hex(h.wire_id())},
                {"piece_length", built->piece_length},
                {"pieces", built->piece_count},
                {"files", files},
                {"torrent", protocol::to_hex(built->torrent.bytes)}};
  if (h.v1) reply["btih"] = protocol::to_hex(*h.v1);
  if (h.v2) reply["btmh"] = protocol::to_hex(*h.v2);
  co_return json_response(200, reply.dump(-1, ' ', false, json::error_handler_t::replace));
}

json folder_bittorrent_json(const peer::file_info& f) {
  if (!f.folder_bt || !f.folder_bt->info_hashes) return nullptr;
  const auto link = "/api/files/" + f.id + "/torrent?download=1&format=";
  json j = json::object();
  for (const auto format :
       {bt::torrent_format::v1, bt::torrent_format::v2, bt::torrent_format::hybrid}) {
    const auto& hashes = (*f.folder_bt->info_hashes)[static_cast<std::size_t>(format)];
    const auto name = std::string(bt::to_string(format));
    json entry = {{"torrent", link + name}};
    if (hashes.v1) entry["btih"] = protocol::to_hex(*hashes.v1);
    if (hashes.v2) entry["btmh"] = protocol::to_hex(*hashes.v2);
    j[name] = entry;
  }
  bt::magnet_link m;
  m.hashes = (*f.folder_bt->info_hashes)[static_cast<std::size_t>(bt::torrent_format::hybrid)];
  m.name = f.name;
  j["magnet"] = bt::make_magnet(m);
  j["piece_length"] = f.folder_bt->piece_length;
  return j;
}

}  // namespace peerlab::http

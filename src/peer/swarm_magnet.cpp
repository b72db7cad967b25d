// Magnet links: `peerlab get 'magnet:?xt=urn:btih:…'`. The torrent is known
// by its info-hash alone until a peer sends its info dictionary (BEP 9); the
// download waits in the manifest state meanwhile, under the id the info
// dictionary will have when the magnet says it (btmh: the v2 info-hash is
// its SHA-256), else under a stand-in id that then names the real one.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "peer/bt_session.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"
#include "protocol/bt_merkle.hpp"

namespace peerlab::peer {

using protocol::content_id;
namespace bt = protocol::bt;

result<content_id> swarm::get_magnet(const std::string& uri, const fs::path& output,
                                     const fs::path& directory) {
  auto m = bt::parse_magnet(uri);
  if (!m) return error{"not a valid magnet link: " + m.error_message()};
  const auto wire_id = m->hashes.wire_id();
  if (const auto known = store_.find_bt(wire_id)) {
    const auto* item = known->item;
    if (!item->complete || output.empty() || fs::absolute(output) == item->path) return item->id;
    return error{"this node already has it at " + item->path.string()};
  }
  // The v2 info-hash is the SHA-256 of the info dictionary: the content id.
  // A v1 magnet's is unknown yet: a stand-in, derived from its info-hash.
  const auto id = m->hashes.v2 ? *m->hashes.v2 : protocol::sha256(wire_id);
  auto& d = downloads_[id];
  if (d && d->state() != download_state::failed) return id;  // under way: join it
  if (d) {
    d->restart();
  } else {
    d = std::make_shared<download>(id, settings_.download);
  }
  d->name = m->name.empty() ? protocol::to_hex(wire_id) : m->name;
  d->size = m->size.value_or(0);
  d->output = output.empty() ? fs::path() : fs::absolute(output);
  d->directory = directory;
  d->manifest_from = 0;  // no peerlab peer is asked: the metadata comes over BitTorrent
  d->manifest_asked = std::chrono::steady_clock::now();
  magnets_[wire_id] = {id, m->trackers};
  bt_.want_metadata(wire_id);
  start_trackers(id, wire_id, m->trackers);
  tick_.cancel();
  return id;
}

void swarm::bt_metadata(const bt::sha1_digest& wire_id, std::vector<std::uint8_t> info) {
  const auto magnet = magnets_.find(wire_id);
  if (magnet == magnets_.end()) return;  // a second copy, or given up
  const auto [stand_in, trackers] = magnet->second;
  magnets_.erase(magnet);
  const auto it = downloads_.find(stand_in);
  if (it == downloads_.end() || it->second->state() != download_state::manifest) {
    bt_.metadata_done(wire_id);
    return;
  }
  auto d = it->second;
  auto parsed = bt::parse_info_dict(info);
  std::string problem;
  if (!parsed) {
    problem = "the magnet's metadata is not a valid info dictionary: " + parsed.error_message();
  } else if (parsed->multi_file) {
    problem = "multi-file torrents are not supported yet";
  } else if (parsed->v1_pieces.empty() && !parsed->piece_layers_complete) {
    problem = "a v2-only magnet needs its piece layers (BEP 52 hash requests), not supported yet";
  }
  if (!problem.empty()) {
    bt_.metadata_done(wire_id);
    return fail(*d, problem);
  }
  parsed->trackers = trackers;
  const auto id = torrent_content_id(*parsed);
  log_line(log_level::info) << "metadata of " << d->name << " received ("
                            << parsed->info_bytes.size() << " bytes)";
  if (id != stand_in) {
    // The real id takes over; the stand-in keeps naming it for the API.
    auto real = std::make_shared<download>(id, settings_.download);
    real->output = d->output;
    real->directory = d->directory;
    real->started = d->started;
    downloads_.erase(it);
    downloads_[id] = real;
    renamed_[stand_in] = id;
    if (auto t = trackers_.extract(stand_in)) {
      t.key() = id;
      trackers_.insert(std::move(t));
    }
    d = real;
  }
  d->name = parsed->name;
  d->size = parsed->total_size;
  if (d->output.empty()) d->output = d->directory / parsed->name;
  d->manifest_from = 0;
  auto beginning = begin_torrent(d, std::move(*parsed));
  asio::co_spawn(io_, std::move(beginning), asio::detached);
}

}  // namespace peerlab::peer

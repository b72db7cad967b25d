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
                                     const fs::path& directory, std::vector<std::string> only) {
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
  const auto d = new_attempt(id);
  if (!d) return id;  // under way: join it
  d->name = m->name.empty() ? protocol::to_hex(wire_id) : m->name;
  d->size = m->size.value_or(0);
  d->output = output.empty() ? fs::path() : fs::absolute(output);
  d->directory = directory;
  d->only = std::move(only);
  d->manifest_from = 0;  // no peerlab peer is asked: the metadata comes over BitTorrent
  d->manifest_asked = std::chrono::steady_clock::now();
  magnets_[wire_id] = {id, m->trackers, {}, 0, {}, 0, {}, {}};
  bt_.want_metadata(wire_id);
  start_trackers(id, wire_id, m->trackers);
  tick_.cancel();
  return id;
}

void swarm::bt_metadata(const bt::sha1_digest& wire_id, std::vector<std::uint8_t> info) {
  const auto magnet = magnets_.find(wire_id);
  if (magnet == magnets_.end() || magnet->second.torrent) return;  // a second copy, or given up
  const auto it = downloads_.find(magnet->second.id);
  if (it == downloads_.end() || it->second->state() != download_state::manifest) {
    magnets_.erase(magnet);
    bt_.metadata_done(wire_id);
    return;
  }
  auto parsed = bt::parse_info_dict(info);
  std::string problem;
  if (!parsed) {
    problem = "the magnet's metadata is not a valid info dictionary: " + parsed.error_message();
  }
  if (!problem.empty()) return fail(*it->second, problem);  // (fail forgets the magnet)
  log_line(log_level::info) << "metadata of " << it->second->name << " received ("
                            << parsed->info_bytes.size() << " bytes)";
  parsed->trackers = magnet->second.trackers;
  magnet->second.torrent = std::move(*parsed);
  // A v2 torrent's pieces are checked against its piece layer, which an
  // info dictionary does not carry: asked of the peers first (BEP 52).
  if (magnet->second.torrent->v1_pieces.empty() && !magnet->second.torrent->piece_layers_complete)
    return next_piece_layer(wire_id);
  start_magnet(wire_id);
}

void swarm::next_piece_layer(const bt::sha1_digest& wire_id) {
  auto& m = magnets_.at(wire_id);
  auto& t = *m.torrent;
  for (std::size_t i = 0; i < t.files.size(); ++i) {
    const auto& f = t.files[i];
    if (f.pad || !f.pieces_root || f.length <= t.piece_length || !f.piece_layer.empty()) continue;
    m.layer_file = i;
    m.layer_asked.clear();  // a new question: everyone may be asked again
    return ask_piece_layer(wire_id);
  }
  t.piece_layers_complete = true;
  start_magnet(wire_id);
}

// The piece layer of a v2 magnet's file (of each, one at a time, in a
// multi-file torrent), 512 hashes per request, asked of one session at a
// time (another when one refuses or lies).
void swarm::ask_piece_layer(const bt::sha1_digest& wire_id) {
  auto& m = magnets_.at(wire_id);
  const auto& t = *m.torrent;
  const auto& file = t.files.at(m.layer_file);
  const bt::piece_layout layout{file.length, t.piece_length};
  const auto pieces = static_cast<std::uint32_t>(layout.piece_count());
  m.layer.assign(pieces, {});
  m.layer_missing = pieces;
  for (auto* s : bt_.sessions_asking(wire_id)) {
    if (m.layer_asked.contains(s->key())) continue;
    m.layer_asked.insert(s->key());
    m.layer_from = s->key();
    const auto count =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(512, bt::merkle_width(pieces)));
    for (std::uint32_t index = 0; index < pieces; index += count)
      s->ask_hashes(*file.pieces_root, bt::log2_exact(layout.blocks_per_piece()), index, count);
    return;
  }
  m.layer_from.reset();  // nobody (left) to ask: peers that come later are
}

void swarm::bt_hashes(bt_session& s, bt::hashes h) {
  const auto it = magnets_.find(s.wire_id());
  if (it == magnets_.end() || !it->second.torrent || it->second.layer_from != s.key()) return;
  auto& m = it->second;
  auto& file = m.torrent->files.at(m.layer_file);
  const bt::piece_layout layout{file.length, m.torrent->piece_length};
  const auto pieces = m.layer.size();
  if (h.root != *file.pieces_root || h.base != bt::log2_exact(layout.blocks_per_piece()) ||
      h.values.size() < h.count || h.index >= pieces) {
    if (h.values.empty()) return ask_piece_layer(s.wire_id());  // refused: someone else
    return bt_.ban(s, "sent hashes that were not asked for");
  }
  for (std::uint32_t i = 0; i < h.count && h.index + i < pieces; ++i) {
    if (m.layer[h.index + i] == bt::sha256_digest{}) --m.layer_missing;
    m.layer[h.index + i] = h.values[i];
  }
  if (m.layer_missing > 0) return;
  // Proven by the root the info dictionary names (the info-hash proved that).
  const auto pad = bt::merkle_pad(bt::log2_exact(layout.blocks_per_piece()));
  if (bt::merkle_root(m.layer, bt::merkle_width(pieces), pad) != *file.pieces_root) {
    bt_.ban(s, "sent a piece layer that does not hash to the pieces root");
    return ask_piece_layer(s.wire_id());
  }
  file.piece_layer = std::move(m.layer);
  m.layer.clear();
  next_piece_layer(s.wire_id());
}

// The magnet's torrent is whole: its download begins (under its real id).
void swarm::start_magnet(const bt::sha1_digest& wire_id) {
  auto node = magnets_.extract(wire_id);
  const auto stand_in = node.mapped().id;
  auto t = std::move(*node.mapped().torrent);
  const auto it = downloads_.find(stand_in);
  if (it == downloads_.end() || it->second->state() != download_state::manifest) {
    bt_.metadata_done(wire_id);
    return;
  }
  auto d = it->second;
  const auto id = torrent_content_id(t);
  if (id != stand_in) {
    // The real id takes over; the stand-in keeps naming it for the API.
    auto real = std::make_shared<download>(id, settings_.download);
    real->output = d->output;
    real->directory = d->directory;
    real->only = d->only;
    real->started = d->started;
    downloads_.erase(it);
    downloads_[id] = real;
    renamed_[stand_in] = id;
    if (auto tracker = trackers_.extract(stand_in)) {
      tracker.key() = id;
      trackers_.insert(std::move(tracker));
    }
    d = real;
  }
  d->name = t.name;
  d->size = t.total_size;
  if (d->output.empty()) d->output = d->directory / t.name;
  d->manifest_from = 0;
  auto beginning = begin_torrent(d, std::move(t));
  asio::co_spawn(io_, std::move(beginning), asio::detached);
}

}  // namespace peerlab::peer

// Torrents: `peerlab get FILE.torrent`. A torrent's download runs through the
// same `download` as a peerlab one (chunk = piece, one chunk map, the same
// partial file, resume and rename-into-place rules); its sources are
// BitTorrent sessions, found through the torrent's trackers and by peers
// that dial us, and its pieces are checked against the torrent's hashes.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fstream>

#include "peer/bt_session.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;
using protocol::content_id;
namespace bt = protocol::bt;

namespace {

constexpr std::uint64_t max_torrent_file_bytes = 16 * 1024 * 1024;
constexpr std::uint32_t max_download_piece_bytes = 16 * 1024 * 1024;

// Blocking: the bytes of a .torrent file, bounded.
result<std::vector<std::uint8_t>> read_torrent_file(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return error{"cannot read " + file.string() + ": " + ec.message()};
  if (size > max_torrent_file_bytes) return error{file.string() + " is too large for a .torrent"};
  std::ifstream in(file, std::ios::binary);
  std::vector<std::uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in || in.gcount() != static_cast<std::streamsize>(size))
    return error{"cannot read " + file.string()};
  return bytes;
}

}  // namespace

asio::awaitable<result<content_id>> swarm::get_torrent(fs::path torrent_file, fs::path output,
                                                       fs::path directory,
                                                       std::vector<std::string> only) {
  auto read = [&] { return read_torrent_file(torrent_file); };
  auto bytes = co_await disk_.run(disk_io::lane::files, read);
  if (!bytes) co_return error{bytes.error_message()};
  auto parsed = bt::parse_torrent(*bytes);
  if (!parsed) co_return error{"not a valid .torrent: " + parsed.error_message()};
  if (!parsed->multi_file && !only.empty())
    co_return error{"--only is for folders and multi-file torrents: this torrent is one file"};
  if (parsed->v1_pieces.empty() && !parsed->piece_layers_complete)
    co_return error{"this v2 torrent lacks its piece layers"};
  const auto id = torrent_content_id(*parsed);
  if (const auto* item = store_.find(id); item && item->complete) {
    if (output.empty() || fs::absolute(output) == item->path) co_return id;
    co_return error{"this node already has it at " + item->path.string()};
  }
  const auto d = new_attempt(id);
  if (!d) co_return id;  // under way: join it
  d->name = parsed->name;
  d->size = parsed->total_size;
  d->output = output.empty() ? directory / parsed->name : fs::absolute(output);
  d->only = std::move(only);
  d->manifest_from = 0;  // nobody is asked for a manifest: the torrent is it
  auto beginning = begin_torrent(d, std::move(*parsed));
  asio::co_spawn(io_, std::move(beginning), asio::detached);
  co_return id;
}

asio::awaitable<void> swarm::begin_torrent(std::shared_ptr<download> d, bt::torrent_info t) {
  // A piece is assembled in memory before it is checked: bounded.
  if (t.piece_length > max_download_piece_bytes) {
    metadata_done(t.hashes);
    co_return fail(*d, "its pieces are " + std::to_string(t.piece_length >> 20) +
                           " MiB: at most 16 MiB are downloaded");
  }
  if (!store_.find(d->id())) {
    std::optional<content> earlier;
    if (const auto u = store_.unavailable().find(d->id()); u != store_.unavailable().end())
      earlier = u->second.first;
    auto prepare = [&] { return store_.prepare_torrent_download(t, d->output, earlier, d->only); };
    auto prepared = co_await disk_.run(disk_io::lane::files, prepare);
    if (!prepared) {
      metadata_done(t.hashes);
      co_return fail(*d, prepared.error_message());
    }
    if (!store_.find(d->id())) store_.add_download(std::move(*prepared));
    co_await disk_.flush();  // listed in the catalog before any piece is written
  }
  const auto wire_id = t.hashes.wire_id();
  const auto* item = store_.find(d->id());
  metadata_done(t.hashes);  // sessions that fetched a magnet's metadata start downloading
  if (!item || !d->active()) co_return;
  start_requests(*d, item->manifest);
  start_trackers(d->id(), wire_id, t.trackers);
  add_bt_sources(*d);
  // Our peerlab peers speak BitTorrent on the same port: any of them may be
  // in this swarm too (a handshake for a torrent it lacks is closed at once).
  bt_.add_candidates(wire_id, peer_addresses());
  auto finishing = finish(d);
  co_await std::move(finishing);
}

// Sessions opened for a magnet (under either of a hybrid's info-hashes)
// download the torrent now, or close if it could not begin.
void swarm::metadata_done(const bt::info_hashes& hashes) {
  if (hashes.v1) bt_.metadata_done(*hashes.v1);
  if (hashes.v2) bt_.metadata_done(bt::info_hashes::truncate(*hashes.v2));
}

void swarm::start_trackers(const content_id& id, const bt::sha1_digest& wire_id,
                           const std::vector<std::string>& urls) {
  if (urls.empty() || trackers_.contains(id)) return;
  auto numbers = [this, id] {
    announce_numbers n;  // a magnet's, before its metadata: how much is left is unknown
    if (const auto* c = store_.find(current_id(id))) {
      n.downloaded = c->bytes_held();
      n.left = c->manifest.size - n.downloaded;
    }
    return n;
  };
  auto on_peers = [this, wire_id](std::vector<protocol::endpoint> peers) {
    std::erase(peers, listen_);
    bt_.add_candidates(wire_id, peers);
  };
  tracker_client_settings settings;
  settings.source_address = listen_;  // listed where we listen (a loopback node: its own 127.x)
  auto client = std::make_unique<tracker_client>(io_, urls, wire_id, bt_.own_id(), listen_.port,
                                                 numbers, on_peers, settings);
  client->start();
  trackers_.emplace(id, std::move(client));
}

// A torrent download short of sources: the peers it lost are dialed again,
// and its trackers asked for more (each as often as it allows).
void swarm::look_for_bt_sources(const download& d, clock::time_point now) {
  const auto* item = store_.find(d.id());
  if (!item || !item->torrent || d.stats(now).peers > 0) return;
  auto& last = bt_redialed_[d.id()];
  if (now - last < settings_.bt_redial_interval) return;
  last = now;
  bt_.redial(item->bt->of(*item->torrent).hashes.wire_id());
  if (const auto t = trackers_.find(d.id()); t != trackers_.end()) t->second->announce_now();
}

// Sessions that were there before the download began (peers that dialed us).
void swarm::add_bt_sources(download& d) {
  for (auto* s : bt_.sessions_for(d.id()))
    if (s->is_source()) bt_source_ready(*s);
}

// ------------------------------------------------- BitTorrent sessions ---

void swarm::bt_source_ready(bt_session& s) {
  const auto it = downloads_.find(s.content());
  const auto* item = store_.find(s.content());
  if (it == downloads_.end() || !item || it->second->state() != download_state::downloading) return;
  it->second->set_map(s, s.theirs());
  it->second->fill(s, item->have, clock::now());
}

void swarm::bt_source_has(bt_session& s, std::uint32_t piece) {
  const auto it = downloads_.find(s.content());
  const auto* item = store_.find(s.content());
  if (it == downloads_.end() || !item || !it->second->knows(s.key())) return;
  it->second->add_have(s, piece);
  it->second->fill(s, item->have, clock::now());
}

void swarm::bt_source_gone(bt_session& s) {
  const auto it = downloads_.find(s.content());
  if (it == downloads_.end() || !it->second->knows(s.key())) return;
  it->second->remove_source(s.key());
  fill_all();
}

void swarm::bt_piece(bt_session& s, std::uint32_t piece, std::vector<std::uint8_t> data) {
  auto receiving = receive_chunk(s.key(), protocol::chunk{s.content(), piece, std::move(data)});
  asio::co_spawn(io_, std::move(receiving), asio::detached);
}

void swarm::bt_rejected(bt_session& s, std::uint32_t piece) {
  const auto it = downloads_.find(s.content());
  if (it == downloads_.end()) return;
  it->second->on_reject(s.key(), piece, clock::now());
  fill_all();
}

content_id swarm::current_id(const content_id& id) const {
  const auto it = renamed_.find(id);
  return it == renamed_.end() ? id : it->second;
}

}  // namespace peerlab::peer

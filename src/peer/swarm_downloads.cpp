// A download's life in the swarm: its manifest, who holds which chunk, each
// chunk verified and written through the disk layer, then the flush and
// rename into place (or the failure).

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "peer/bt_session.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"
#include "peer/swarm_peer.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;
using protocol::content_id;

// ------------------------------------------------------------ manifests ---

void swarm::ask_manifest(download& d) {
  // Holders are asked in the order of their node ids (any order would do;
  // this one is the same on every run, which tests rely on).
  peer* first = nullptr;
  for (const auto& [key, p] : peers_) {
    if (d.manifest_tried.contains(key) || !holds(key, d.id())) continue;
    if (!first || p->id < first->id) first = p.get();
  }
  if (first) {
    d.manifest_from = first->key();
    d.manifest_asked = clock::now();
    d.manifest_tried.insert(first->key());
    first->conn->send(protocol::get_manifest{d.id()});
    return;
  }
  d.manifest_from.reset();
  d.manifest_tried.clear();  // everyone had a go: start over when someone new shows up
}

void swarm::on_manifest(peer& p, const protocol::manifest_data& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end() || it->second->state() != download_state::manifest ||
      it->second->manifest_from != p.key()) {
    return;  // not asked for, or a late answer to a question we gave up on
  }
  auto& d = *it->second;
  d.manifest_from.reset();
  if (m.bytes.empty()) return ask_manifest(d);
  if (protocol::id_of_encoded(m.bytes) != d.id()) {
    ban(p, "sent a manifest that does not match its content id");
    return ask_manifest(d);
  }
  if (protocol::is_folder_manifest(m.bytes)) return on_folder_manifest(it->second, m.bytes);
  if (const auto only = folder_only_.find(d.id()); only != folder_only_.end()) {
    const bool parts = !only->second.empty();
    folder_only_.erase(only);
    if (parts) return fail(d, "--only names parts of a folder, and this content id is a file");
  }
  // The right bytes but not a valid manifest: whoever made the id made it so.
  auto decoded = protocol::decode_manifest(m.bytes);
  if (!decoded)
    return fail(d, "the manifest of this content id is invalid: " + decoded.error_message());
  d.manifest_from = p.key();  // so that nobody else is asked while the files are made
  if (is_folder_file(d.id())) {
    asio::co_spawn(io_, begin_folder_file(it->second, std::move(*decoded)), asio::detached);
    return;
  }
  asio::co_spawn(io_, begin_download(it->second, std::move(*decoded)), asio::detached);
}

asio::awaitable<void> swarm::begin_download(std::shared_ptr<download> d, protocol::manifest m) {
  if (d->output.empty()) d->output = d->directory / m.name;
  if (!store_.find(d->id())) {
    std::optional<content> earlier;
    if (const auto u = store_.unavailable().find(d->id()); u != store_.unavailable().end())
      earlier = u->second.first;
    auto prepare = [&] { return store_.prepare_download(m, d->output, earlier); };
    auto prepared = co_await disk_.run(disk_io::lane::files, prepare);
    if (!prepared) co_return fail(*d, prepared.error_message());
    if (!store_.find(d->id())) store_.add_download(std::move(*prepared));
    // The catalog must list the download before any chunk is written: a
    // crash would otherwise leave verified chunks that no restart knows of.
    co_await disk_.flush();
  }
  if (!store_.find(d->id()) || !d->active()) co_return;
  start_requests(*d, std::move(m));
  // An empty file, or one whose every chunk was already on disk. (Awaitables
  // with arguments are made in a statement of their own: GCC 12 may destroy
  // the temporaries of a co_await expression twice.)
  auto finishing = finish(d);
  co_await std::move(finishing);
}

void swarm::start_requests(download& d, protocol::manifest m) {
  const auto* item = store_.find(d.id());
  const auto resumed = item->have.count();
  d.begin(std::move(m), resumed);
  if (item->tree) {
    d.want_only(item->tree->wanted);
    d.place_all = true;  // (a retry: files may have been ready when it failed)
  }
  log_line(log_level::info) << "downloading " << d.name << " ("
                            << protocol::to_hex(d.id()).substr(0, 12) << ", "
                            << d.manifest().chunk_count() << " chunks, " << resumed
                            << " already verified) to " << d.output.string();
  broadcast_catalog();  // we hold part of it now, and serve what we have
  ask_chunk_maps(d);
}

// --------------------------------------------------------------- chunks ---

void swarm::ask_chunk_maps(download& d) {
  for (const auto& [key, p] : peers_) {
    if (d.knows(key) || !holds(key, d.id())) continue;
    d.set_map(*p, chunk_set(d.manifest().chunk_count()));  // none, until it answers
    p->conn->send(protocol::get_chunk_map{d.id()});
  }
}

bool swarm::on_chunk_map(peer& p, const protocol::chunk_map& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end() || it->second->state() != download_state::downloading) return true;
  auto& d = *it->second;
  auto map = chunk_set::from_bits(m.bits, d.manifest().chunk_count());
  if (!map) {
    p.conn->close("chunk map of the wrong size");
    return false;
  }
  d.set_map(p, std::move(*map));
  if (const auto* item = store_.find(d.id())) d.fill(p, item->have, clock::now());
  return true;
}

bool swarm::on_have(peer& p, const protocol::have& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end() || it->second->state() != download_state::downloading) return true;
  auto& d = *it->second;
  if (!d.add_have(p, m.index)) {
    p.conn->close("have for chunk " + std::to_string(m.index) + " past the end");
    return false;
  }
  if (const auto* item = store_.find(d.id())) d.fill(p, item->have, clock::now());
  return true;
}

void swarm::on_reject(peer& p, const protocol::reject& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end()) return;
  it->second->on_reject(p.key(), m.index, clock::now());
  fill_all();
}

void swarm::fill_all() {
  const auto now = clock::now();
  for (auto& [id, d] : downloads_) {
    if (const auto* item = store_.find(id); item && d->state() == download_state::downloading)
      d->fill_all(item->have, now);
  }
}

// A chunk (or a BitTorrent piece) from `from`, a source of either protocol.
asio::awaitable<void> swarm::receive_chunk(std::uint64_t from, protocol::chunk m) {
  auto* src = source(from);
  if (!src) co_return;
  const auto it = downloads_.find(m.id);
  const auto arrival =
      it == downloads_.end() ? download::arrival::unrequested : it->second->on_chunk(from, m.index);
  if (arrival == download::arrival::unrequested) {
    ban_source(from, "sent chunk " + std::to_string(m.index) + " that was never requested");
    co_return;
  }
  const auto d = it->second;  // ours until the disk layer is done
  const auto* item = store_.find(d->id());
  if (arrival == download::arrival::ignore || !item || item->complete || item->have.has(m.index)) {
    if (arrival == download::arrival::verify) d->on_not_written(from, m.index, false);
    if (item) d->fill(*src, item->have, clock::now());
    co_return;  // answered by someone else meanwhile, or no longer wanted
  }
  const std::string name = src->name();
  if (m.data.size() != d->manifest().chunk_length(m.index)) {
    d->on_not_written(from, m.index, true);
    ban_source(from, "sent chunk " + std::to_string(m.index) + " with the wrong length");
    co_return;
  }
  // A multi-file torrent's piece goes to the files it spans.
  auto writing =
      item->tree
          ? disk_.write_piece(item->tree, item->chunk_map, d->manifest().chunk_offset(m.index),
                              m.index, m.data, item->check(m.index))
          : disk_.write_chunk(item->partial, item->chunk_map, d->manifest().chunk_offset(m.index),
                              m.index, m.data, item->check(m.index));
  const auto [outcome, problem] = co_await std::move(writing);
  chunk_buffers_->give(std::move(m.data));
  // Whatever happened meanwhile, `d` is the same download (we hold it).
  const auto now = clock::now();
  if (outcome != chunk_write::written) {
    d->on_not_written(from, m.index, outcome == chunk_write::corrupt);
    if (outcome == chunk_write::failed) co_return fail(*d, problem);
    log_line(log_level::warn) << "chunk " << m.index << " of " << d->name << " failed verification";
    ban_source(from, "sent chunk " + std::to_string(m.index) + " that does not match its hash");
    fill_all();
    co_return;
  }
  store_.mark_chunk(d->id(), m.index);
  if (item->tree) d->pieces_to_place.push_back(m.index);
  d->on_written(from, name, m.index, now);
  for (auto& [key, other] : peers_) {
    if (other->subscribed.contains(d->id())) other->conn->send(protocol::have{d->id(), m.index});
  }
  bt_.on_our_piece(d->id(), m.index);
  auto finishing = finish(d);
  co_await std::move(finishing);
  if (auto* again = source(from)) {
    if (const auto* now_item = store_.find(d->id()); now_item && d->active())
      d->fill(*again, now_item->have, now);
  }
}

asio::awaitable<void> swarm::finish(std::shared_ptr<download> d) {
  if (is_folder_file(d->id())) {
    auto placing = finish_folder_file(d);
    co_await std::move(placing);
    co_return;
  }
  const auto* item = store_.find(d->id());
  if (item && item->tree) {
    auto placing = finish_tree(d);
    co_await std::move(placing);
    co_return;
  }
  if (d->state() != download_state::downloading || !item || !item->have.complete() ||
      d->writing() || item->complete || d->finishing) {
    co_return;
  }
  d->finishing = true;
  auto flushing = disk_.finish_download(item->partial, item->partial_path(), item->path);
  auto stamp = co_await std::move(flushing);
  if (!stamp) {
    d->finishing = false;
    co_return fail(*d, stamp.error_message());
  }
  store_.complete_download(d->id(), *stamp);
  co_await disk_.flush();  // "complete" only once the catalog says so on disk
  d->finishing = false;
  completed(*d, "chunks");
  broadcast_catalog();
  // Hashed again, once, rather than in the download's hot path: chunks come
  // out of order, and a v2 tree needs them all (it reads the page cache).
  asio::co_spawn(io_, hash_for_bittorrent(d->id()), asio::detached);
}

// A download verified and in place (a file, or a torrent's whole tree).
void swarm::completed(download& d, const char* units) {
  d.complete();
  bt_redialed_.erase(d.id());
  wake_end_waiters();
  const double seconds = std::chrono::duration<double>(clock::now() - d.started).count();
  const auto stats = d.stats(clock::now());
  log_line(log_level::info) << "complete: " << d.output.string() << " (" << d.size << " bytes in "
                            << seconds << " s, " << stats.fetched << " " << units
                            << " fetched from " << stats.sources.size() << " peers)";
  if (const auto t = trackers_.find(d.id()); t != trackers_.end()) t->second->completed();
  if (const auto* done = store_.find(d.id()); done && done->torrent)
    bt_.forget_candidates(done->bt->of(*done->torrent).hashes.wire_id());
}

void swarm::fail(download& d, std::string why) {
  d.fail(std::move(why));
  bt_redialed_.erase(d.id());
  for (auto it = magnets_.begin(); it != magnets_.end();) {
    if (it->second.id != d.id()) {
      ++it;
      continue;
    }
    bt_.metadata_done(it->first);
    it = magnets_.erase(it);
  }
  if (const auto t = trackers_.find(d.id()); t != trackers_.end()) {
    t->second->stop();
    trackers_.erase(t);
  }
  if (const auto* item = store_.find(d.id()); item && item->torrent)
    bt_.forget_candidates(item->bt->of(*item->torrent).hashes.wire_id());
  if (is_folder_file(d.id())) folder_file_failed(d);
  wake_end_waiters();
  log_line(log_level::error) << "download of "
                             << (d.name.empty() ? protocol::to_hex(d.id()) : d.name)
                             << " failed: " << d.error();
}

}  // namespace peerlab::peer

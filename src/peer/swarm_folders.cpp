// The swarm's folders: a directory shared as one id (its folder manifest),
// and fetched whole or in part. Each file of a folder is an ordinary content,
// fetched by an ordinary download (verify, partial file, resume) a few at a
// time, and placed as it completes: renamed into its path, then copied to
// the paths of identical files, which are fetched once.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <limits>

#include "peer/folder_paths.hpp"
#include "peer/folder_scan.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;
using protocol::content_id;

namespace {

// A file of a folder, verified and in place: the store serves it from there.
void add_in_place(store& storage, const protocol::manifest& m, const fs::path& path,
                  const file_stamp& stamp) {
  const auto id = protocol::id_of(m);
  if (const auto* item = storage.find(id); item) return;
  content c;
  c.id = id;
  c.manifest = m;
  c.path = path;
  c.complete = true;
  c.stamp = stamp;
  c.have = chunk_set(m.chunk_count(), true);
  c.in_folder = true;
  storage.add_download(std::move(c));
}

// Which entries to fetch and which files that takes (each once).
result<std::monostate> plan(folder_transfer& f) {
  const auto& entries = f.record.manifest.entries;
  auto chosen = protocol::select_folder_entries(f.record.manifest, f.record.only);
  if (!chosen) return error{chosen.error_message()};
  f.selected.assign(entries.size(), false);
  f.pending.clear();
  f.waiting.clear();
  f.running.clear();
  for (const auto i : *chosen) {
    f.selected[i] = true;
    if (entries[i].is_file() && !f.record.stamps[i]) f.pending[entries[i].id].push_back(i);
  }
  for (const auto& [id, where] : f.pending)
    f.waiting.push_back(id);
  return std::monostate{};
}

bool all_files_in_place(const folder_record& r) {
  for (std::size_t i = 0; i < r.stamps.size(); ++i) {
    if (r.manifest.entries[i].is_file() && !r.stamps[i]) return false;
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------- records ---

void swarm::load_folders() {
  auto loaded = folder_book_.load();  // at start, before the node serves (as store::load)
  if (!loaded) {
    log_line(log_level::error) << "cannot read the folders: " << loaded.error_message();
    return;
  }
  for (auto& r : loaded->records) {
    const auto id = r.id;
    auto& f = folders_[id];
    f.record = std::move(r);
    const auto& entries = f.record.manifest.entries;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].is_file()) continue;
      file_folders_[entries[i].id].insert(id);
      const auto m = loaded->files.find(entries[i].id);
      if (f.record.stamps[i] && m != loaded->files.end())
        add_in_place(store_, m->second, f.record.path_of(i), *f.record.stamps[i]);
    }
    if (auto planned = plan(f); !planned) {
      f.state = folder_transfer::phase::failed;
      f.error = planned.error_message();
      continue;
    }
    if (f.record.shared || f.record.complete) {
      f.state = folder_transfer::phase::complete;
      continue;
    }
    // A download left by an earlier run: manifests it already had are kept,
    // so its files resume without asking anyone.
    for (const auto& [file, where] : f.pending) {
      if (const auto m = loaded->files.find(file); m != loaded->files.end())
        f.known.emplace(file, m->second);
    }
    f.state = folder_transfer::phase::downloading;
    auto save = [this, record = f.record]() mutable {
      auto saved = folder_book_.save(record);
      return saved ? result<std::shared_ptr<file_handle>>(record.done_map)
                   : result<std::shared_ptr<file_handle>>(error{saved.error_message()});
    };
    auto done_map = save();  // blocking, at start: reopens ID.done
    if (!done_map) {
      f.state = folder_transfer::phase::failed;
      f.error = done_map.error_message();
      continue;
    }
    f.record.done_map = *done_map;
    remove_stray_temporaries(f.record.root);  // blocking, at start: files a kill left half-made
    log_line(log_level::info) << "resuming folder " << f.record.manifest.name << ": "
                              << f.pending.size() << " files to go, to " << f.record.root.string();
  }
}

const folder_record* swarm::folder(const content_id& id) const {
  const auto it = folders_.find(id);
  return it == folders_.end() ? nullptr : &it->second.record;
}

std::optional<local_file> swarm::folder_file(const content_id& id, std::string_view path) const {
  const auto* r = folder(id);
  if (!r) return std::nullopt;
  const auto& entries = r->manifest.entries;
  const auto it = std::lower_bound(entries.begin(), entries.end(), path,
                                   [](const auto& e, std::string_view p) { return e.path < p; });
  if (it == entries.end() || it->path != path || !it->is_file()) return std::nullopt;
  const auto i = static_cast<std::size_t>(it - entries.begin());
  if (!r->stamps[i]) return std::nullopt;
  const auto slash = it->path.rfind('/');
  return local_file{r->path_of(i),
                    slash == std::string::npos ? it->path : it->path.substr(slash + 1), it->size,
                    *r->stamps[i]};
}

std::vector<std::uint8_t> swarm::folder_manifest_bytes(const content_id& id) const {
  const auto* r = folder(id);
  return r ? protocol::encode_folder_manifest(r->manifest) : std::vector<std::uint8_t>{};
}

// --------------------------------------------------------------- share ---

asio::awaitable<result<content_id>> swarm::share_folder(fs::path dir) {
  // The same folder shared before: its unchanged files are not hashed again.
  std::optional<folder_record> earlier;
  std::map<content_id, protocol::manifest> known;
  for (const auto& [id, f] : folders_) {
    if (!f.record.shared || f.record.root != dir) continue;
    earlier = f.record;
    for (const auto& e : f.record.manifest.entries) {
      if (const auto* item = e.is_file() ? store_.find(e.id) : nullptr; item && item->complete)
        known.emplace(e.id, item->manifest);
    }
  }
  auto scan = [&] { return scan_folder(dir, earlier ? &*earlier : nullptr, known); };
  auto scanned = co_await disk_.run(disk_io::lane::hashing, scan);
  if (!scanned) co_return error{scanned.error_message()};
  folder_record r;
  r.manifest = std::move(scanned->manifest);
  r.id = protocol::id_of_encoded(protocol::encode_folder_manifest(r.manifest));
  r.root = dir;
  r.shared = r.complete = true;
  r.stamps = std::move(scanned->stamps);
  std::vector<protocol::manifest> files;
  for (const auto& [id, m] : scanned->files)
    files.push_back(m);
  auto save = [&]() -> result<std::monostate> {
    if (auto saved = folder_book_.save(r); !saved) return saved;
    return folder_book_.append_files(r.id, files, true);
  };
  if (auto saved = co_await disk_.run(disk_io::lane::files, save); !saved)
    co_return error{saved.error_message()};
  if (earlier && earlier->id != r.id && folders_.contains(earlier->id)) {
    folders_.erase(earlier->id);  // the folder changed: its old id is no longer ours
    disk_.remove_file_later(folder_book_.folder_path(earlier->id, ".json"));
  }
  const auto& entries = r.manifest.entries;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].is_file()) continue;
    file_folders_[entries[i].id].insert(r.id);
    add_in_place(store_, scanned->files.at(entries[i].id), r.path_of(i), *r.stamps[i]);
  }
  const auto id = r.id;
  log_line(log_level::info) << "sharing folder " << dir.string() << " as " << protocol::to_hex(id)
                            << " (" << r.manifest.file_count() << " files, " << scanned->hashed
                            << " hashed now)";
  auto& f = folders_[id];
  f.record = std::move(r);
  f.state = folder_transfer::phase::complete;
  f.selected.assign(f.record.manifest.entries.size(), true);
  broadcast_catalog();
  co_return id;
}

// ----------------------------------------------------------- catalogs ---

bool swarm::is_folder_file(const content_id& id) const {
  return file_folders_.contains(id);
}

// A peer holds a folder's file if it says it holds the file, or the folder.
bool swarm::holds(std::uint64_t peer, const content_id& id) const {
  if (catalog_.holds(peer, id)) return true;
  const auto it = file_folders_.find(id);
  if (it == file_folders_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const content_id& f) { return catalog_.holds(peer, f); });
}

protocol::catalog swarm::own_catalog() const {
  auto out = catalog::own(store_);
  for (const auto& [id, f] : folders_) {
    if (out.entries.size() >= protocol::max_catalog_entries) break;
    if (f.state == folder_transfer::phase::starting) continue;
    out.entries.push_back(
        {id, f.record.manifest.name, f.record.manifest.total_bytes(), f.record.complete, true});
  }
  return out;
}

// A peer that holds a folder we fetch may hold the files we wait for.
void swarm::on_folder_catalog(const protocol::catalog& m) {
  for (const auto& entry : m.entries) {
    const auto it = entry.folder ? folders_.find(entry.id) : folders_.end();
    if (it == folders_.end() || !it->second.active()) continue;
    for (const auto& file : it->second.running) {
      const auto d = downloads_.find(file);
      if (d == downloads_.end()) continue;
      if (d->second->state() == download_state::manifest && !d->second->manifest_from)
        ask_manifest(*d->second);
      if (d->second->state() == download_state::downloading) ask_chunk_maps(*d->second);
    }
  }
}

// ------------------------------------------------------------ download ---

void swarm::on_folder_manifest(std::shared_ptr<download> d, std::vector<std::uint8_t> bytes) {
  auto decoded = protocol::decode_folder_manifest(bytes);
  // The right bytes but not a valid folder: whoever made the id made it so.
  if (!decoded)
    return fail(*d, "the folder of this content id is refused: " + decoded.error_message());
  const auto id = d->id();
  folder_transfer f;
  f.record.id = id;
  f.record.root = d->output.empty() ? d->directory / decoded->name : d->output;
  f.record.manifest = std::move(*decoded);
  f.record.stamps.assign(f.record.manifest.entries.size(), std::nullopt);
  f.record.only = std::move(folder_only_[id]);
  folder_only_.erase(id);
  if (auto planned = plan(f); !planned) return fail(*d, planned.error_message());
  for (const auto& e : f.record.manifest.entries) {
    if (e.is_file()) file_folders_[e.id].insert(id);
  }
  f.started = d->started;
  folders_[id] = std::move(f);
  downloads_.erase(id);  // the folder takes over from its manifest phase
  asio::co_spawn(io_, begin_folder(id), asio::detached);
}

asio::awaitable<void> swarm::begin_folder(content_id id) {
  auto record = folders_.at(id).record;
  const auto selected = folders_.at(id).selected;
  // The target, its chosen empty directories and the record, before any file.
  auto prepare = [&]() -> result<std::monostate> {
    const auto& entries = record.manifest.entries;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].is_file() || !selected[i]) continue;
      if (auto made = make_folder_directories(record.root, entries[i].path, false); !made)
        return made;
    }
    if (auto made = make_folder_directories(record.root, "", false); !made) return made;
    return folder_book_.save(record);
  };
  auto prepared = co_await disk_.run(disk_io::lane::files, prepare);
  const auto it = folders_.find(id);
  if (it == folders_.end() || !it->second.active()) co_return;
  auto& f = it->second;
  if (!prepared) co_return end_folder(f, prepared.error_message());
  f.record.done_map = record.done_map;
  f.state = folder_transfer::phase::downloading;
  log_line(log_level::info) << "downloading folder " << f.record.manifest.name << " ("
                            << f.pending.size() << " files to fetch) to " << f.record.root.string();
  broadcast_catalog();  // we hold part of it now
  run_folder_files(f);
}

void swarm::run_folder_files(folder_transfer& f) {
  if (f.state != folder_transfer::phase::downloading) return;
  while (f.running.size() < settings_.folder_parallel_files && !f.waiting.empty()) {
    const auto file = f.waiting.front();
    f.waiting.pop_front();
    f.running.insert(file);
    start_folder_file(f, file);
  }
  if (!f.running.empty() || !f.waiting.empty() || f.state != folder_transfer::phase::downloading)
    return;
  f.state = folder_transfer::phase::complete;
  f.record.complete = all_files_in_place(f.record);
  auto record = f.record;
  auto save = [this, record]() mutable { return folder_book_.save(record); };
  asio::co_spawn(
      io_,
      [this, save]() mutable -> asio::awaitable<void> {
        if (auto saved = co_await disk_.run(disk_io::lane::files, save); !saved)
          log_line(log_level::error) << saved.error_message();
      },
      asio::detached);
  const double seconds = std::chrono::duration<double>(clock::now() - f.started).count();
  log_line(log_level::info) << "complete: folder " << f.record.root.string() << " in " << seconds
                            << " s";
  wake_end_waiters();
  broadcast_catalog();
}

void swarm::start_folder_file(folder_transfer& f, const content_id& file) {
  // Here already (shared, or fetched for another folder): copied, not fetched.
  if (const auto* item = store_.find(file); item && item->complete) {
    asio::co_spawn(io_, place_folder_file(file, item->path), asio::detached);
    return;
  }
  auto& d = downloads_[file];
  if (d && d->active()) return;  // under way (for another folder): placed when it completes
  if (d) {
    d->restart();
  } else {
    d = std::make_shared<download>(file, settings_.download);
  }
  d->output = f.record.path_of(f.pending.at(file).front());
  if (const auto known = f.known.find(file); known != f.known.end()) {
    // Nobody need be asked: mark the manifest phase as busy while the files are made.
    d->manifest_from = std::numeric_limits<std::uint64_t>::max();
    d->manifest_asked = clock::now();
    asio::co_spawn(io_, begin_folder_file(d, known->second), asio::detached);
    return;
  }
  ask_manifest(*d);
}

asio::awaitable<void> swarm::begin_folder_file(std::shared_ptr<download> d, protocol::manifest m) {
  const auto file = d->id();
  folder_transfer* f = nullptr;
  for (const auto& folder_id : file_folders_[file]) {
    const auto it = folders_.find(folder_id);
    if (it != folders_.end() && it->second.active() && it->second.pending.contains(file))
      f = &it->second;
  }
  if (!f) co_return;  // nobody wants it any more
  const auto entry = f->pending.at(file).front();
  const auto& e = f->record.manifest.entries[entry];
  if (m.name != protocol::folder_file_name || m.size != e.size) {
    fail(*d, "the manifest of " + e.path + " does not match the folder");
    co_return end_folder(*f,
                         "the folder's file " + e.path + " has a manifest that does not match it");
  }
  const auto folder_id = f->record.id;
  const bool known = f->known.contains(file);
  const auto root = f->record.root;
  const auto path = e.path;
  auto prepare = [&]() -> result<content> {
    if (auto made = make_folder_directories(root, path, true); !made)
      return error{made.error_message()};
    auto c = store_.prepare_folder_file(m, root / path);
    if (c && !known) {
      if (auto logged = folder_book_.append_files(folder_id, {m}); !logged)
        return error{logged.error_message()};
    }
    return c;
  };
  auto prepared = co_await disk_.run(disk_io::lane::placing, prepare);
  if (!prepared) {
    fail(*d, prepared.error_message());
    co_return;
  }
  if (!store_.find(file)) store_.add_download(std::move(*prepared));
  if (!d->active()) co_return;
  d->manifest_from.reset();
  d->begin(std::move(m), store_.find(file)->have.count());
  ask_chunk_maps(*d);
  auto finishing = finish(d);  // every chunk may be on disk already
  co_await std::move(finishing);
}

asio::awaitable<void> swarm::finish_folder_file(std::shared_ptr<download> d) {
  const auto* item = store_.find(d->id());
  if (d->state() != download_state::downloading || !item || !item->have.complete() ||
      d->writing() || item->complete || d->finishing) {
    co_return;
  }
  d->finishing = true;
  auto flushing = disk_.finish_download(item->partial, item->partial_path(), item->path,
                                        disk_io::lane::placing);
  auto stamp = co_await std::move(flushing);
  d->finishing = false;
  if (!stamp) co_return fail(*d, stamp.error_message());
  store_.complete_download(d->id(), *stamp);
  d->complete();
  const auto* done = store_.find(d->id());
  if (!done) co_return;
  auto placing = place_folder_file(d->id(), done->path);
  co_await std::move(placing);
}

// A verified file is in place at `from`: it goes to every entry of every
// folder that waits for it (a copy where it is not there already).
asio::awaitable<void> swarm::place_folder_file(content_id file, fs::path from) {
  for (const auto& folder_id : std::set<content_id>(file_folders_[file])) {
    auto it = folders_.find(folder_id);
    if (it == folders_.end() || !it->second.active() || !it->second.pending.contains(file))
      continue;
    auto& f = it->second;
    const auto entries = f.pending.at(file);
    const auto record_root = f.record.root;
    std::vector<std::pair<std::size_t, fs::path>> targets;
    for (const auto i : entries)
      targets.emplace_back(i, f.record.path_of(i));
    const auto done_map = f.record.done_map;
    const auto names = f.record.manifest.entries;
    auto place = [&]() -> result<std::vector<std::pair<std::size_t, file_stamp>>> {
      std::vector<std::pair<std::size_t, file_stamp>> placed;
      for (const auto& [i, to] : targets) {
        auto stamp = to == from ? store::stamp_of(to) : [&]() -> result<file_stamp> {
          if (auto made = make_folder_directories(record_root, names[i].path, true); !made)
            return error{made.error_message()};
          return copy_into_place(from, to);
        }();
        if (!stamp) return error{stamp.error_message()};
        if (done_map) {
          if (auto marked = folder_book::mark_done(*done_map, i); !marked)
            return error{marked.error_message()};
        }
        placed.emplace_back(i, *stamp);
      }
      return placed;
    };
    auto placed = co_await disk_.run(disk_io::lane::placing, place);
    it = folders_.find(folder_id);
    if (it == folders_.end() || !it->second.active()) continue;
    if (!placed) {
      end_folder(it->second, placed.error_message());
      continue;
    }
    for (const auto& [i, stamp] : *placed)
      it->second.record.stamps[i] = stamp;
    it->second.pending.erase(file);
    it->second.running.erase(file);
    run_folder_files(it->second);
  }
}

void swarm::folder_file_failed(const download& d) {
  const auto it = file_folders_.find(d.id());
  if (it == file_folders_.end()) return;
  for (const auto& folder_id : std::set<content_id>(it->second)) {
    const auto f = folders_.find(folder_id);
    if (f == folders_.end() || !f->second.active() || !f->second.pending.contains(d.id())) continue;
    const auto& e = f->second.record.manifest.entries[f->second.pending.at(d.id()).front()];
    end_folder(f->second, e.path + ": " + d.error());
  }
}

void swarm::end_folder(folder_transfer& f, std::string why) {
  if (!f.active()) return;
  f.state = folder_transfer::phase::failed;
  f.error = std::move(why);
  log_line(log_level::error) << "download of folder " << f.record.manifest.name
                             << " failed: " << f.error;
  // Its other files stop too (their verified chunks stay for a retry).
  const auto running = f.running;
  f.running.clear();
  for (const auto& file : running) {
    if (const auto d = downloads_.find(file); d != downloads_.end() && d->second->active())
      fail(*d->second, "its folder failed");
  }
  wake_end_waiters();
}

}  // namespace peerlab::peer

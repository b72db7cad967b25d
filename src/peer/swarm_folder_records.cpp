// The swarm's folders, what it holds: the records an earlier run left, a
// directory shared as one id, and folders in catalogs (who holds their files).

#include "peer/folder_paths.hpp"
#include "peer/folder_scan.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

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

}  // namespace

// Which entries to fetch and which files that takes (each once).
result<std::monostate> plan_folder(folder_transfer& f) {
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
    if (auto planned = plan_folder(f); !planned) {
      f.state = folder_transfer::phase::failed;
      f.error = planned.error_message();
      continue;
    }
    if (f.record.shared || f.record.complete) {
      f.state = folder_transfer::phase::complete;
      seed_folder_torrents(f.record);
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
  r.bt = std::move(scanned->bt);
  std::vector<protocol::manifest> files;
  for (const auto& [id, m] : scanned->files)
    files.push_back(m);
  auto save = [&]() -> result<std::monostate> {
    if (auto saved = folder_book_.save(r); !saved) return saved;
    if (auto saved = folder_book_.save_bt(r.id, r); !saved) return saved;
    return folder_book_.append_files(r.id, files, true);
  };
  if (auto saved = co_await disk_.run(disk_io::lane::files, save); !saved)
    co_return error{saved.error_message()};
  if (earlier && earlier->id != r.id && folders_.contains(earlier->id)) {
    folders_.erase(earlier->id);  // the folder changed: its old id is no longer ours
    unseed_folder_torrents(earlier->id);
    disk_.remove_file_later(folder_book_.folder_path(earlier->id, ".json"));
    disk_.remove_file_later(folder_book_.folder_path(earlier->id, ".bt"));
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
  seed_folder_torrents(f.record);
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

}  // namespace peerlab::peer

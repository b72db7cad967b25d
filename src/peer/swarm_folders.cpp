// The swarm's folders: a directory shared as one id (its folder manifest),
// and fetched whole or in part. Each file of a folder is an ordinary content,
// fetched by an ordinary download (verify, partial file, resume) a few at a
// time, and placed as it completes: renamed into its path, then copied to
// the paths of identical files, which are fetched once.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <limits>

#include "peer/folder_paths.hpp"
#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;
using protocol::content_id;

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
  if (auto planned = plan_folder(f); !planned) return fail(*d, planned.error_message());
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

// The swarm's face to the HTTP API and the CLI: share, get, and what they
// show (transfers, files, id prefixes).

#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;
using protocol::content_id;

asio::awaitable<result<content_id>> swarm::share(fs::path file) {
  file = fs::absolute(file);
  if (std::error_code ec; fs::is_directory(file, ec)) {
    auto sharing = share_folder(file.lexically_normal());
    co_return co_await std::move(sharing);
  }
  auto hash = [&file] { return store::hash_file(file); };
  auto hashed = co_await disk_.run(disk_io::lane::hashing, hash);
  if (!hashed) co_return error{hashed.error_message()};
  if (auto added = store_.add_shared(*hashed, file); !added) {
    co_return error{added.error_message()};
  }
  const auto id = protocol::id_of(hashed->manifest);
  log_line(log_level::info) << "sharing " << file.string() << " as " << protocol::to_hex(id);
  broadcast_catalog();
  co_return id;
}

std::set<content_id> swarm::matches(const std::string& prefix) const {
  std::set<content_id> found;
  const auto consider = [&](const content_id& id) {
    if (protocol::to_hex(id).starts_with(prefix)) found.insert(id);
  };
  for (const auto& [id, item] : store_.items())
    consider(id);
  for (const auto& [id, f] : folders_)
    consider(id);
  for (const auto& [key, entries] : catalog_.all()) {
    for (const auto& [id, entry] : entries)
      consider(id);
  }
  return found;
}

std::optional<content_id> swarm::resolve(const std::string& text) const {
  if (auto full = protocol::content_id_from_hex(text)) return *full;
  if (text.size() < 8) return std::nullopt;
  const auto found = matches(text);
  if (found.size() != 1) return std::nullopt;
  return *found.begin();
}

result<content_id> swarm::get(const std::string& text, const fs::path& output,
                              const fs::path& directory, std::vector<std::string> only) {
  const auto id = resolve(text);
  if (!id) return error{"no known content id starts with " + text + " (or more than one does)"};
  if (const auto f = folders_.find(*id); f != folders_.end()) {
    const auto& r = f->second.record;
    const auto root = output.empty() ? directory / r.manifest.name : fs::absolute(output);
    if (f->second.active()) return *id;  // under way: join it
    const bool same =
        r.root == root && (r.shared || r.only == only || (r.complete && only.empty()));
    if (f->second.state == folder_transfer::phase::complete && same) return *id;
    if (r.shared && r.root != root)
      return error{"this node shares that folder at " + r.root.string()};
    unseed_folder_torrents(f->first);
    folders_.erase(f);  // failed, or another part of it: fetched anew (files in place stay)
  }
  folder_only_[*id] = std::move(only);
  if (const auto* item = store_.find(*id); item && item->complete) {
    if (output.empty() || fs::absolute(output) == item->path) {
      // Already here: keep the record of how it came, if this run fetched it.
      if (!downloads_.contains(*id)) {
        auto d = std::make_shared<download>(*id, settings_.download);
        d->output = item->path;
        d->begin(item->manifest, item->manifest.chunk_count());
        d->complete();
        downloads_[*id] = d;
      }
      return *id;
    }
    return error{"this node already has it at " + item->path.string()};
  }
  const auto d = new_attempt(*id);
  if (!d) return *id;  // under way: join it
  d->output = output.empty() ? fs::path() : fs::absolute(output);
  d->directory = directory;
  ask_manifest(*d);
  tick_.cancel();  // the maintenance loop may be sleeping long: it has work now
  return *id;
}

std::shared_ptr<download> swarm::new_attempt(const content_id& id) {
  auto& d = downloads_[id];
  if (d && d->state() != download_state::failed) return nullptr;
  if (d) {
    d->restart();  // its requests still out are remembered: their chunks are welcome
  } else {
    d = std::make_shared<download>(id, settings_.download);
  }
  return d;
}

transfer_info swarm::info_of(const download& d) const {
  const auto now = clock::now();
  transfer_info t;
  t.id = protocol::to_hex(d.id());
  t.name = d.name;
  t.size = d.size;
  t.output = d.output.string();
  t.state = to_string(d.state());
  t.error = d.error();
  t.chunks_total = d.manifest().chunk_count();
  const auto* item = store_.find(d.id());
  if (item && item->torrent) t.protocol = "bittorrent";
  t.folder = item && item->tree;  // its files: transfer(id) alone (a tree may hold 100 000)
  if (const auto tr = trackers_.find(d.id()); tr != trackers_.end())
    t.trackers = tr->second->status();
  const bool complete = d.state() == download_state::complete;
  if (item) {
    t.chunks_done = item->have.count();
    t.bytes_done = item->bytes_held();
  }
  if (complete) {
    t.chunks_done = t.chunks_total;
    t.bytes_done = d.size;
  }
  const auto stats = d.stats(now);
  t.chunks_resumed = stats.resumed;
  t.chunks_fetched = stats.fetched;
  t.chunks_rejected = stats.rejected;
  t.rate = stats.rate;
  t.peers = stats.peers;
  if (t.rate > 0 && d.state() == download_state::downloading)
    t.eta_seconds = static_cast<double>(d.size - t.bytes_done) / t.rate;
  t.sources = stats.sources;
  t.chunk_sources = stats.chunk_sources;
  t.chunk_map.assign(t.chunks_total, '0');
  for (std::size_t i = 0; i < t.chunk_map.size(); ++i) {
    if (complete || (item && item->have.has(i))) {
      t.chunk_map[i] = '1';
    } else if (d.busy(i)) {
      t.chunk_map[i] = '~';
    }
  }
  return t;
}

std::vector<transfer_info> swarm::transfers() const {
  std::vector<transfer_info> out;
  for (const auto& [id, d] : downloads_) {
    if (!is_folder_file(id)) out.push_back(info_of(*d));  // shown within their folder
  }
  for (const auto& [id, f] : folders_) {
    if (!f.record.shared) out.push_back(folder_info(f));
  }
  return out;
}

std::optional<transfer_info> swarm::transfer(const content_id& wanted) const {
  const auto id = current_id(wanted);
  if (const auto f = folders_.find(id); f != folders_.end()) return folder_info(f->second);
  const auto it = downloads_.find(id);
  if (it == downloads_.end()) return std::nullopt;
  auto t = info_of(*it->second);
  if (const auto* item = store_.find(id); item && item->tree) tree_progress(*item, t);
  return t;
}

std::vector<file_info> swarm::files() const {
  std::map<content_id, file_info> all;
  for (const auto& [id, f] : folders_) {
    all[id] = {protocol::to_hex(id),
               f.record.manifest.name,
               f.record.manifest.total_bytes(),
               1,
               f.record.complete ? "complete" : "partial",
               0,
               0,
               nullptr,
               true,
               f.record.manifest.file_count(),
               f.record.complete ? f.record.bt : nullptr};
  }
  for (const auto& [id, item] : store_.items()) {
    if (item.in_folder) continue;  // listed as its folder
    all[id] = {protocol::to_hex(id),
               item.manifest.name,
               item.manifest.size,
               1,
               item.complete ? "complete" : "partial",
               item.manifest.chunk_count(),
               item.manifest.chunk_size,
               item.bt};
  }
  for (const auto& [key, entries] : catalog_.all()) {
    for (const auto& [id, e] : entries) {
      auto [it, inserted] = all.try_emplace(
          id, file_info{protocol::to_hex(id), e.name, e.size, 0, "", 0, 0, nullptr, e.folder, 0});
      ++it->second.holders;
    }
  }
  std::vector<file_info> out;
  for (auto& [id, f] : all)
    out.push_back(std::move(f));
  return out;
}

std::optional<local_file> swarm::complete_file(const content_id& id) const {
  const auto* item = store_.find(id);
  if (!item || !item->complete || item->tree) return std::nullopt;  // a tree is no one file
  return local_file{item->path, item->manifest.name, item->manifest.size, item->stamp};
}

}  // namespace peerlab::peer

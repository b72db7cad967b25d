#include "peer/store.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "peer/data_dir.hpp"
#include "peer/disk_io.hpp"
#include "peer/log.hpp"
#include "peer/private_files.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

content* store::find(const protocol::content_id& id) {
  const auto it = items_.find(id);
  return it == items_.end() ? nullptr : &it->second;
}

fs::path store::manifest_path(const protocol::content_id& id) const {
  return dir_ / "manifests" / (protocol::to_hex(id) + ".manifest");
}

fs::path store::chunk_map_path(const protocol::content_id& id) const {
  return dir_ / "downloads" / (protocol::to_hex(id) + ".chunks");
}

result<std::monostate> store::open_partial(content& c, bool create) const {
  // A download creates its files anew, and reopens them on resume, without
  // ever following a link someone planted at their paths (docs/security.md).
  // (A multi-file torrent's files are the tree's: torrent_tree, file_pool.)
  if (!c.tree) {
    auto data_fd = create ? create_private(c.partial_path(), c.manifest.size)
                          : open_existing(c.partial_path());
    if (!data_fd) return error{data_fd.error_message()};
    c.partial = std::make_shared<file_handle>(*data_fd);
  }
  auto map_fd = create ? create_private(chunk_map_path(c.id), c.manifest.chunk_count())
                       : open_existing(chunk_map_path(c.id));
  if (!map_fd) return error{"the chunk map: " + map_fd.error_message()};
  c.chunk_map = std::make_shared<file_handle>(*map_fd);
  if (create) return std::monostate{};
  const int map_fd_value = *map_fd;
  // Resume: one byte per chunk, 1 = verified and written.
  std::vector<std::uint8_t> flags_on_disk(c.manifest.chunk_count());
  if (!flags_on_disk.empty() && !read_fully(map_fd_value, flags_on_disk.data(), 0,
                                            static_cast<std::uint32_t>(flags_on_disk.size()))) {
    return error{"the chunk map of " + protocol::to_hex(c.id) + " is truncated"};
  }
  c.have = chunk_set(c.manifest.chunk_count());
  for (std::size_t i = 0; i < flags_on_disk.size(); ++i) {
    if (flags_on_disk[i] == 1) c.have.set(i);
  }
  return std::monostate{};
}

result<std::monostate> store::load() {
  std::error_code ec;
  fs::create_directories(dir_ / "manifests", ec);
  fs::create_directories(dir_ / "downloads", ec);
  fs::create_directories(dir_ / "torrents", ec);
  if (ec) return error{"cannot create " + (dir_ / "downloads").string() + ": " + ec.message()};
  std::ifstream in(dir_ / "catalog.json");
  if (!in) return std::monostate{};  // nothing shared yet
  nlohmann::json entries;
  try {
    entries = nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return error{(dir_ / "catalog.json").string() + " is corrupt"};
  }
  for (const auto& e : entries) {
    content c;
    std::string torrent;            // a torrent download's format, "" for a peerlab file
    std::vector<std::string> only;  // a multi-file torrent's --only
    try {
      auto id = protocol::content_id_from_hex(e.at("id").get<std::string>());
      if (!id) continue;
      c.id = *id;
      c.path = e.at("path").get<std::string>();
      c.complete = e.at("complete").get<bool>();
      c.stamp = {e.at("size").get<std::uint64_t>(), e.at("mtime_ns").get<std::int64_t>(),
                 e.at("inode").get<std::uint64_t>(), e.value("ctime_ns", std::int64_t{-1})};
      torrent = e.value("torrent", std::string{});
      only = e.value("only", std::vector<std::string>{});
    } catch (const std::exception&) {
      continue;
    }
    if (!torrent.empty()) {
      // A torrent download has no manifest file: its kept torrent says all.
      if (auto kept = load_torrent(c, torrent, only); !kept) {
        log_line(log_level::warn) << "dropping the torrent download of " << c.path << ": "
                                  << kept.error_message();
        continue;
      }
    } else {
      std::ifstream manifest_in(manifest_path(c.id), std::ios::binary);
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(manifest_in)), {});
      auto m = protocol::decode_manifest(bytes);
      if (!m || protocol::id_of_encoded(bytes) != c.id) {
        log_line(log_level::warn) << "dropping " << protocol::to_hex(c.id)
                                  << ": its manifest is missing or corrupt";
        continue;
      }
      c.manifest = std::move(*m);
    }
    if (c.tree) {
      // A multi-file torrent: its chunk map (kept: --only may leave pieces
      // out) and files; complete, every selected file must be in place.
      if (auto opened = open_tree(c, false); !opened) {
        if (c.complete) {
          log_line(log_level::warn)
              << "no longer sharing " << c.path << ": " << opened.error_message();
          continue;
        }
        log_line(log_level::warn) << "cannot resume the download of " << c.path
                                  << " for now: " << opened.error_message();
        const auto id = c.id;
        unavailable_.emplace(id, std::pair{std::move(c), opened.error_message()});
        continue;
      }
      if (c.complete) {
        c.chunk_map.reset();
        bool all = true;
        for (std::size_t i = 0; i < c.placed.size(); ++i)
          all = all && (!c.tree->selected[i] || c.placed[i]);
        if (!all) {
          log_line(log_level::warn)
              << "no longer sharing " << c.path << ": some of its files changed or vanished";
          continue;
        }
      }
    } else if (c.complete) {
      const auto now = stamp_of(c.path);
      // A catalog written before change times were recorded: trust the rest.
      if (now && c.stamp.ctime_ns < 0) c.stamp.ctime_ns = now->ctime_ns;
      if (!now || !(*now == c.stamp)) {
        log_line(log_level::warn) << "no longer sharing " << c.path
                                  << ": the file changed or vanished";
        continue;
      }
      c.have = chunk_set(c.manifest.chunk_count(), true);
      if (!c.bt) load_bt(c);
    } else if (auto opened = open_partial(c, false); !opened) {
      log_line(log_level::warn) << "cannot resume the download of " << c.path
                                << " for now: " << opened.error_message();
      const auto id = c.id;
      unavailable_.emplace(id, std::pair{std::move(c), opened.error_message()});
      continue;
    }
    const auto [it, inserted] = items_.emplace(c.id, std::move(c));
    if (inserted) index_bt(it->second);
  }
  return save_catalog();
}

result<std::monostate> store::save_catalog() const {
  nlohmann::json entries = nlohmann::json::array();
  std::vector<const content*> all;
  for (const auto& [id, c] : items_)
    all.push_back(&c);
  for (const auto& [id, u] : unavailable_)
    all.push_back(&u.first);
  for (const auto* item : all) {
    const auto& c = *item;
    if (c.in_folder) continue;
    entries.push_back({{"id", protocol::to_hex(c.id)},
                       {"name", c.manifest.name},
                       {"path", c.path.string()},
                       {"complete", c.complete},
                       {"size", c.stamp.size},
                       {"mtime_ns", c.stamp.mtime_ns},
                       {"inode", c.stamp.inode},
                       {"ctime_ns", c.stamp.ctime_ns}});
    // A torrent download: its torrent is in torrents/ID.torrent, not manifests/.
    if (c.torrent) entries.back()["torrent"] = std::string(protocol::bt::to_string(*c.torrent));
    if (c.tree && !c.tree->only.empty()) entries.back()["only"] = c.tree->only;
  }
  save(dir_ / "catalog.json", entries.dump(1) + "\n");
  return std::monostate{};
}

void store::save(const fs::path& path, std::string contents) const {
  if (disk_) return disk_->write_file_later(path, std::move(contents));
  if (auto written = write_file_atomically(path, contents, 0644); !written)
    log_line(log_level::error) << written.error_message();
}

result<std::monostate> store::add_shared(const hashed_file& h, const fs::path& file) {
  const auto& m = h.manifest;
  const auto& stamp = h.stamp;
  const auto encoded = protocol::encode_manifest(m);
  content c;
  c.id = protocol::id_of_encoded(encoded);
  c.manifest = m;
  c.path = fs::absolute(file);
  c.complete = true;
  c.stamp = stamp;
  c.have = chunk_set(m.chunk_count(), true);
  save(manifest_path(c.id), std::string(encoded.begin(), encoded.end()));
  unavailable_.erase(c.id);
  const auto id = c.id;
  items_[id] = std::move(c);
  if (auto info = make_bt_info(m, h.bt); info) set_bt(id, std::move(*info), true);
  return save_catalog();
}

result<content> store::prepare_download(const protocol::manifest& m, const fs::path& target,
                                        std::optional<content> earlier) const {
  const auto encoded = protocol::encode_manifest(m);
  // A download left by an earlier run that could not be reopened then.
  if (earlier && earlier->path == target) {
    content resumed = std::move(*earlier);
    if (auto opened = open_partial(resumed, false); !opened) return error{opened.error_message()};
    return resumed;
  }
  content c;
  c.id = protocol::id_of_encoded(encoded);
  c.manifest = m;
  c.path = target;
  c.have = chunk_set(m.chunk_count());
  const std::string bytes(encoded.begin(), encoded.end());
  if (auto saved = write_file_atomically(manifest_path(c.id), bytes, 0644); !saved)
    return error{saved.error_message()};
  if (auto opened = open_partial(c, true); !opened) return error{opened.error_message()};
  return c;
}

void store::add_download(content c) {
  const bool in_folder = c.in_folder;
  const auto id = c.id;
  unavailable_.erase(id);
  unindex_bt(id);
  auto& item = items_[id] = std::move(c);
  // A torrent download is named by its info-hashes from the start.
  index_bt(item);
  if (!in_folder) save_catalog();
}

result<content> store::prepare_folder_file(const protocol::manifest& m,
                                           const fs::path& target) const {
  content c;
  c.id = protocol::id_of(m);
  c.manifest = m;
  c.path = target;
  c.in_folder = true;
  c.have = chunk_set(m.chunk_count());
  // No chunk map file: a folder may hold thousands of small files, and one
  // more file made and deleted for each costs more than it saves. On resume
  // the partial file's chunks are verified again instead.
  std::error_code ec;
  if (!fs::exists(c.partial_path(), ec)) {
    auto fd = create_private(c.partial_path(), m.size);
    if (!fd) return error{fd.error_message()};
    c.partial = std::make_shared<file_handle>(*fd);
    return c;
  }
  auto fd = open_existing(c.partial_path());
  if (!fd) return error{fd.error_message()};
  c.partial = std::make_shared<file_handle>(*fd);
  std::vector<std::uint8_t> buffer(m.chunk_count() > 0 ? m.chunk_size : 0);
  for (std::size_t i = 0; i < m.chunk_count(); ++i) {
    const auto length = m.chunk_length(i);
    if (read_fully(*fd, buffer.data(), m.chunk_offset(i), length) &&
        protocol::sha256({buffer.data(), length}) == m.chunk_hashes[i]) {
      c.have.set(i);
    }
  }
  return c;
}

void store::mark_chunk(const protocol::content_id& id, std::size_t index) {
  if (auto* c = find(id); c && !c->complete) c->have.set(index);
}

void store::complete_download(const protocol::content_id& id, const file_stamp& stamp) {
  auto* c = find(id);
  if (!c || c->complete) return;
  c->complete = true;
  c->stamp = stamp;
  c->partial.reset();
  c->chunk_map.reset();
  // A multi-file torrent keeps its chunk map: with --only, pieces of the
  // files left out are not here, and a restart must know which are.
  if (c->tree) return (void)save_catalog();
  c->have = chunk_set(c->manifest.chunk_count(), true);
  if (c->in_folder) return;  // no chunk map, and not in catalog.json
  if (disk_) disk_->remove_file_later(chunk_map_path(id));
  save_catalog();
}

void store::mark_placed(const protocol::content_id& id, std::size_t i) {
  if (auto* c = find(id); c && c->tree && i < c->placed.size()) c->placed[i] = true;
}

void store::remove(const protocol::content_id& id) {
  unindex_bt(id);
  const auto it = items_.find(id);
  const bool in_folder = it != items_.end() && it->second.in_folder;
  const bool torrent = it != items_.end() && it->second.torrent;
  items_.erase(id);
  if (in_folder) return;
  save_catalog();
  if (!torrent) return;
  // After the catalog that no longer names it (the files lane keeps the order).
  if (disk_) return disk_->remove_file_later(torrent_path(id));
  std::error_code ignored;
  fs::remove(torrent_path(id), ignored);
}

std::uint64_t content::bytes_held() const {
  std::uint64_t held = 0;
  for (std::size_t i = 0; i < have.size(); ++i)
    if (have.has(i)) held += manifest.chunk_length(i);
  return held;
}

}  // namespace peerlab::peer

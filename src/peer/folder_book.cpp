#include "peer/folder_book.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "peer/data_dir.hpp"
#include "peer/folder_torrent.hpp"
#include "peer/log.hpp"

namespace peerlab::peer {

namespace {

std::vector<std::uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

nlohmann::json stamp_json(const file_stamp& s) {
  return {s.size, s.mtime_ns, s.inode, s.ctime_ns};
}

std::optional<file_stamp> stamp_from_json(const nlohmann::json& j) {
  if (!j.is_array() || j.size() != 4) return std::nullopt;
  return file_stamp{j[0].get<std::uint64_t>(), j[1].get<std::int64_t>(), j[2].get<std::uint64_t>(),
                    j[3].get<std::int64_t>()};
}

// The file manifests of ID.files: [u32 LE length][manifest], repeated.
void read_files(const fs::path& path, std::map<protocol::content_id, protocol::manifest>& out) {
  const auto bytes = read_all(path);
  std::size_t at = 0;
  while (bytes.size() - at >= 4) {
    const std::size_t n = bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
                          static_cast<std::size_t>(bytes[at + 3]) << 24;
    at += 4;
    if (n > bytes.size() - at) break;  // a torn tail: the rest is fetched again
    const std::span<const std::uint8_t> encoded(bytes.data() + at, n);
    at += n;
    if (auto m = protocol::decode_manifest(encoded))
      out.emplace(protocol::id_of_encoded(encoded), *m);
  }
}

}  // namespace

fs::path folder_book::folder_path(const protocol::content_id& id, const char* suffix) const {
  return dir_ / (protocol::to_hex(id) + suffix);
}

result<folder_book::loaded> folder_book::load() const {
  loaded out;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return error{"cannot create " + dir_.string() + ": " + ec.message()};
  for (const auto& file : fs::directory_iterator(dir_, ec)) {
    if (file.path().extension() != ".json") continue;
    folder_record r;
    try {
      const auto j = nlohmann::json::parse(std::ifstream(file.path()));
      auto id = protocol::content_id_from_hex(j.at("id").get<std::string>());
      if (!id) continue;
      r.id = *id;
      r.root = j.at("root").get<std::string>();
      r.shared = j.at("shared").get<bool>();
      r.complete = j.at("complete").get<bool>();
      r.only = j.at("only").get<std::vector<std::string>>();
      const auto bytes = read_all(folder_path(r.id, ".folder"));
      auto m = protocol::decode_folder_manifest(bytes);
      if (!m || protocol::id_of_encoded(bytes) != r.id) {
        log_line(log_level::warn) << "dropping folder " << protocol::to_hex(r.id)
                                  << ": its manifest is missing or corrupt";
        continue;
      }
      r.manifest = std::move(*m);
      r.stamps.assign(r.manifest.entries.size(), std::nullopt);
      const auto& stamps = j.at("stamps");
      for (std::size_t i = 0; i < stamps.size() && i < r.stamps.size(); ++i)
        r.stamps[i] = stamp_from_json(stamps[i]);
    } catch (const std::exception&) {
      log_line(log_level::warn) << "ignoring " << file.path().string() << ": it is corrupt";
      continue;
    }
    // A download in progress: what ID.done says is in place.
    const auto done = r.complete ? std::vector<std::uint8_t>{} : read_done(r.id);
    for (std::size_t i = 0; i < done.size() && i < r.stamps.size(); ++i) {
      if (done[i] != 1 || r.stamps[i]) continue;
      if (const auto now = store::stamp_of(r.path_of(i))) r.stamps[i] = *now;
    }
    // A file edited, or gone, since it was recorded is no longer ours to serve.
    for (std::size_t i = 0; i < r.stamps.size(); ++i) {
      if (!r.stamps[i] || !r.manifest.entries[i].is_file()) continue;
      const auto now = store::stamp_of(r.path_of(i));
      if (!now || !(*now == *r.stamps[i]) || now->size != r.manifest.entries[i].size) {
        log_line(log_level::warn) << "folder " << r.manifest.name << ": "
                                  << r.manifest.entries[i].path << " changed or vanished";
        r.stamps[i].reset();
        if (r.shared) r.complete = false;
      }
    }
    read_files(folder_path(r.id, ".files"), out.files);
    if (const auto bytes = read_all(folder_path(r.id, ".bt")); !bytes.empty()) {
      auto hashes = decode_folder_bt(bytes, r.manifest);
      if (hashes) {
        add_folder_info_hashes(*hashes, r.manifest);
        r.bt = std::make_shared<const folder_bt_hashes>(std::move(*hashes));
      } else {
        log_line(log_level::warn) << "folder " << r.manifest.name << ": " << hashes.error_message()
                                  << " (hashed again when asked for)";
      }
    }
    out.records.push_back(std::move(r));
  }
  return out;
}

result<std::monostate> folder_book::save(folder_record& r) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  const auto encoded = protocol::encode_folder_manifest(r.manifest);
  if (auto w = write_file_atomically(folder_path(r.id, ".folder"),
                                     std::string(encoded.begin(), encoded.end()), 0644);
      !w) {
    return w;
  }
  nlohmann::json stamps = nlohmann::json::array();
  for (const auto& s : r.stamps)
    stamps.push_back(s ? stamp_json(*s) : nlohmann::json(nullptr));
  const nlohmann::json j = {{"id", protocol::to_hex(r.id)},
                            {"name", r.manifest.name},
                            {"root", r.root.string()},
                            {"shared", r.shared},
                            {"complete", r.complete},
                            {"only", r.only},
                            {"stamps", stamps}};
  if (auto w = write_file_atomically(folder_path(r.id, ".json"), j.dump() + "\n", 0644); !w)
    return w;
  if (r.shared || r.complete) {
    r.done_map.reset();
    fs::remove(folder_path(r.id, ".done"), ec);
    return std::monostate{};
  }
  if (r.done_map) return std::monostate{};
  const auto path = folder_path(r.id, ".done");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return error{"cannot open " + path.string() + ": " + std::strerror(errno)};
  r.done_map = std::make_shared<file_handle>(fd);
  return std::monostate{};
}

result<std::monostate> folder_book::save_bt(const protocol::content_id& folder,
                                            const folder_record& record) const {
  if (!record.bt) return std::monostate{};
  const auto bytes = encode_folder_bt(*record.bt, record.manifest);
  return write_file_atomically(folder_path(folder, ".bt"), std::string(bytes.begin(), bytes.end()),
                               0644);
}

result<std::monostate> folder_book::append_files(const protocol::content_id& folder,
                                                 const std::vector<protocol::manifest>& files,
                                                 bool fresh) const {
  std::string out;
  for (const auto& m : files) {
    const auto encoded = protocol::encode_manifest(m);
    const auto n = static_cast<std::uint32_t>(encoded.size());
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<char>(n >> (8 * i)));
    out.append(encoded.begin(), encoded.end());
  }
  const auto path = folder_path(folder, ".files");
  // No fsync: each record is checked against its id when read back, and one
  // lost in a crash is fetched again.
  const int fd =
      ::open(path.c_str(),
             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (fresh ? O_TRUNC : 0), 0644);
  if (fd < 0) return error{"cannot open " + path.string() + ": " + std::strerror(errno)};
  const file_handle closer(fd);
  if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
    return error{"cannot write " + path.string() + ": " + std::strerror(errno)};
  return std::monostate{};
}

result<std::monostate> folder_book::mark_done(const file_handle& done_map, std::size_t index) {
  const std::uint8_t one = 1;
  if (::pwrite(done_map.fd(), &one, 1, static_cast<off_t>(index)) != 1)
    return error{std::string("cannot record a finished file: ") + std::strerror(errno)};
  return std::monostate{};
}

std::vector<std::uint8_t> folder_book::read_done(const protocol::content_id& folder) const {
  return read_all(folder_path(folder, ".done"));
}

}  // namespace peerlab::peer

#include "peer/folder_scan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "peer/log.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

namespace {

constexpr std::size_t max_scan_threads = 8;

file_stamp stamp_from(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

// Reads a file once, hashing each chunk as it goes; refuses a file that
// changes meanwhile (its stamp before and after differ).
result<std::pair<protocol::manifest, file_stamp>> hash_in_place(const fs::path& file,
                                                                std::vector<std::uint8_t>& buffer) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return error{"cannot read " + file.string() + ": " + std::strerror(errno)};
  const file_handle handle(fd);
  struct stat before {};
  if (::fstat(fd, &before) != 0 || !S_ISREG(before.st_mode))
    return error{file.string() + " is not a regular file"};
  const auto size = static_cast<std::uint64_t>(before.st_size);
  if (size > protocol::max_file_bytes) return error{file.string() + " is larger than 128 GiB"};
  auto m = protocol::folder_file_manifest(size, {});
  const std::size_t chunks = (size + m.chunk_size - 1) / m.chunk_size;
  m.chunk_hashes.resize(chunks);
  if (buffer.size() < m.chunk_size && chunks > 0) buffer.resize(m.chunk_size);
  for (std::size_t i = 0; i < chunks; ++i) {
    const auto length = m.chunk_length(i);
    std::uint32_t done = 0;
    while (done < length) {
      const auto n = ::pread(fd, buffer.data() + done, length - done,
                             static_cast<off_t>(m.chunk_offset(i) + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return error{"cannot read " + file.string() + ": it shrank or failed"};
      done += static_cast<std::uint32_t>(n);
    }
    m.chunk_hashes[i] = protocol::sha256({buffer.data(), length});
  }
  struct stat after {};
  if (::fstat(fd, &after) != 0 || !(stamp_from(after) == stamp_from(before)))
    return error{file.string() + " changed while it was being hashed"};
  return std::pair{std::move(m), stamp_from(before)};
}

}  // namespace

result<scanned_folder> scan_folder(
    const fs::path& root, const folder_record* earlier,
    const std::map<protocol::content_id, protocol::manifest>& known_files) {
  scanned_folder out;
  auto& f = out.manifest;
  f.name = root.filename().string();
  if (!protocol::is_safe_file_name(f.name))
    return error{"the folder name '" + protocol::printable_name(f.name) + "' cannot be shared"};

  // The walk: regular files and directories only; a link is never followed.
  std::set<std::string> directories, not_empty;
  std::error_code ec;
  fs::recursive_directory_iterator walk(root, fs::directory_options::none, ec);
  if (ec) return error{"cannot read " + root.string() + ": " + ec.message()};
  for (; walk != fs::recursive_directory_iterator(); walk.increment(ec)) {
    if (ec) return error{"cannot read " + root.string() + ": " + ec.message()};
    const auto relative = walk->path().lexically_relative(root).generic_string();
    const auto status = walk->symlink_status(ec);
    if (!fs::is_regular_file(status) && !fs::is_directory(status)) {
      log_line(log_level::warn) << "not sharing " << walk->path().string()
                                << ": only regular files and directories are shared";
      ++out.skipped;
      continue;
    }
    if (auto why = protocol::folder_path_problem(relative); !why.empty())
      return error{"cannot share " + walk->path().string() + ": " + why};
    if (f.entries.size() + directories.size() >= protocol::max_folder_entries)
      return error{"cannot share " + root.string() + ": more than " +
                   std::to_string(protocol::max_folder_entries) + " entries"};
    if (const auto slash = relative.rfind('/'); slash != std::string::npos)
      not_empty.insert(relative.substr(0, slash));
    if (fs::is_directory(status)) {
      directories.insert(relative);
    } else {
      f.entries.push_back({protocol::folder_entry_kind::file, relative, 0, {}});
    }
  }
  for (const auto& d : directories) {
    if (!not_empty.contains(d))
      f.entries.push_back({protocol::folder_entry_kind::empty_directory, d, 0, {}});
  }
  protocol::sort_folder_entries(f.entries);

  // The files, hashed in parallel (each read once, in order); unchanged
  // ones keep the manifest of their last hashing.
  std::map<std::string, std::pair<file_stamp, protocol::content_id>> before;
  if (earlier) {
    for (std::size_t i = 0; i < earlier->manifest.entries.size(); ++i) {
      if (earlier->stamps[i] && earlier->manifest.entries[i].is_file())
        before.emplace(earlier->manifest.entries[i].path,
                       std::pair{*earlier->stamps[i], earlier->manifest.entries[i].id});
    }
  }
  out.stamps.assign(f.entries.size(), std::nullopt);
  std::vector<std::optional<protocol::manifest>> manifests(f.entries.size());
  std::atomic<std::size_t> next{0}, hashed{0};
  std::mutex failure_lock;
  std::string failure;
  const auto work = [&] {
    std::vector<std::uint8_t> buffer;
    for (std::size_t i = next++; i < f.entries.size(); i = next++) {
      auto& e = f.entries[i];
      if (!e.is_file()) continue;
      const auto path = root / e.path;
      if (const auto it = before.find(e.path); it != before.end()) {
        const auto known = known_files.find(it->second.second);
        if (const auto now = store::stamp_of(path);
            now && *now == it->second.first && known != known_files.end()) {
          manifests[i] = known->second;
          out.stamps[i] = *now;
          continue;
        }
      }
      auto h = hash_in_place(path, buffer);
      if (!h) {
        const std::lock_guard lock(failure_lock);
        failure = h.error_message();
        next = f.entries.size();
        return;
      }
      manifests[i] = std::move(h->first);
      out.stamps[i] = h->second;
      ++hashed;
    }
  };
  {
    const std::size_t threads =
        std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, max_scan_threads);
    std::vector<std::jthread> workers;
    for (std::size_t t = 1; t < threads; ++t)
      workers.emplace_back(work);
    work();
  }  // joins the workers
  if (!failure.empty()) return error{failure};
  out.hashed = hashed;
  for (std::size_t i = 0; i < f.entries.size(); ++i) {
    if (!manifests[i]) continue;
    f.entries[i].size = manifests[i]->size;
    f.entries[i].id = protocol::id_of(*manifests[i]);
    out.files.emplace(f.entries[i].id, std::move(*manifests[i]));
  }
  if (auto why = protocol::folder_entries_problem(f); !why.empty())
    return error{"cannot share " + root.string() + ": it holds " + why};
  return out;
}

}  // namespace peerlab::peer

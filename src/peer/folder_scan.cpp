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

#include "peer/folder_torrent.hpp"
#include "peer/log.hpp"
#include "peer/on_every_core.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {

constexpr std::size_t max_scan_threads = 8;

file_stamp stamp_from(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

struct hashed_in_place {
  protocol::manifest manifest;
  file_stamp stamp;
  bt::aligned_file_hashes bt;
};

// Reads a file once, hashing each chunk as it goes (and, in the same read,
// its BitTorrent pieces of `piece_length`); refuses a file that changes
// meanwhile (its stamp before and after differ).
result<hashed_in_place> hash_in_place(const fs::path& file, std::uint32_t piece_length,
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
  const bt::piece_layout layout{size, piece_length};
  auto pieces = bt::range_hasher::create(layout, 0, size);
  if (!pieces) return error{pieces.error_message()};
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
    pieces->update({buffer.data(), length});
  }
  struct stat after {};
  if (::fstat(fd, &after) != 0 || !(stamp_from(after) == stamp_from(before)))
    return error{file.string() + " changed while it was being hashed"};
  auto range = pieces->finish(bt::tail_padding::also_with_pad);
  if (!range) return error{range.error_message()};
  auto padded = range->v1_padded_last;
  auto joined = bt::combine(layout, std::span<const bt::range_hashes>(&*range, 1));
  if (!joined) return error{joined.error_message()};
  return hashed_in_place{std::move(m), stamp_from(before),
                         bt::aligned_file_hashes{std::move(*joined), padded}};
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
      // Its size now, for the piece length (hashed below at its size then).
      f.entries.push_back({protocol::folder_entry_kind::file, relative, walk->file_size(ec), {}});
      if (ec) return error{"cannot read " + walk->path().string() + ": " + ec.message()};
    }
  }
  for (const auto& d : directories) {
    if (!not_empty.contains(d))
      f.entries.push_back({protocol::folder_entry_kind::empty_directory, d, 0, {}});
  }
  protocol::sort_folder_entries(f.entries);

  // The files, hashed in parallel (each read once, in order); unchanged
  // ones keep the manifest (and BitTorrent hashes) of their last hashing.
  // The BitTorrent pieces have one length for the whole folder: if it
  // changed (the folder grew or shrank a lot), every file is read again; an
  // earlier record without BitTorrent hashes (an older version) leaves them
  // to be hashed when a torrent is first asked for.
  const auto piece_length = folder_piece_length(f);
  const bool earlier_bt = earlier && earlier->bt;
  const bool reuse = !earlier_bt || earlier->bt->piece_length == piece_length;
  struct known {
    file_stamp stamp;
    protocol::content_id id;
    const bt::aligned_file_hashes* bt;
  };
  std::map<std::string, known> before;
  if (earlier && reuse) {
    for (std::size_t i = 0; i < earlier->manifest.entries.size(); ++i) {
      if (earlier->stamps[i] && earlier->manifest.entries[i].is_file())
        before.emplace(
            earlier->manifest.entries[i].path,
            known{*earlier->stamps[i], earlier->manifest.entries[i].id,
                  earlier_bt && i < earlier->bt->files.size() ? &earlier->bt->files[i] : nullptr});
    }
  }
  out.stamps.assign(f.entries.size(), std::nullopt);
  std::vector<std::optional<protocol::manifest>> manifests(f.entries.size());
  auto hashes = std::make_shared<folder_bt_hashes>();
  hashes->piece_length = piece_length;
  hashes->files.resize(f.entries.size());
  std::atomic<bool> bt_complete{true};
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
        const auto manifest = known_files.find(it->second.id);
        if (const auto now = store::stamp_of(path);
            now && *now == it->second.stamp && manifest != known_files.end()) {
          manifests[i] = manifest->second;
          out.stamps[i] = *now;
          if (it->second.bt) {
            hashes->files[i] = *it->second.bt;
          } else {
            bt_complete = false;
          }
          continue;
        }
      }
      auto h = hash_in_place(path, piece_length, buffer);
      if (!h) {
        const std::lock_guard lock(failure_lock);
        failure = h.error_message();
        next = f.entries.size();
        return;
      }
      manifests[i] = std::move(h->manifest);
      out.stamps[i] = h->stamp;
      hashes->files[i] = std::move(h->bt);
      ++hashed;
    }
  };
  on_every_core(max_scan_threads, work);
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
  // A file that changed size between the walk and its read may change the
  // piece length: then the hashes are made again when asked for.
  if (bt_complete && folder_piece_length(f) == piece_length) {
    add_folder_info_hashes(*hashes, f);
    out.bt = std::move(hashes);
  }
  return out;
}

}  // namespace peerlab::peer

#include "peer/torrent_tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "peer/file_pool.hpp"
#include "peer/private_files.hpp"
#include "peer/store.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;
using protocol::error;
using protocol::result;

fs::path torrent_tree::final_path(std::size_t i) const {
  return root / fs::path(layout->files.at(i).path);
}

fs::path torrent_tree::partial_path(std::size_t i) const {
  return final_path(i).string() + ".peerlab-partial";
}

result<std::shared_ptr<const torrent_tree>> make_torrent_tree(
    const protocol::content_id& id, fs::path root, const fs::path& data_dir,
    std::shared_ptr<const bt::file_layout> layout, std::vector<std::string> only) {
  // A file named like another's partial file would be overwritten by it.
  for (const auto& f : layout->files) {
    if (!f.pad && f.path.ends_with(".peerlab-partial"))
      return error{"the torrent has a file named like a partial download: " + f.path};
  }
  auto chosen = bt::select_files(*layout, only);
  if (!chosen) return error{chosen.error_message()};
  auto t = std::make_shared<torrent_tree>();
  t->id = id;
  t->root = std::move(root);
  t->layout = std::move(layout);
  t->only = std::move(only);
  t->selected = std::move(*chosen);
  t->wanted.assign(static_cast<std::size_t>(t->layout->piece_count()), false);
  bool all = true;
  for (std::size_t i = 0; i < t->layout->files.size(); ++i) {
    const auto& f = t->layout->files[i];
    if (f.pad || f.length == 0) continue;
    if (!t->selected[i]) {
      all = false;
      continue;
    }
    const auto span = bt::pieces_of(*t->layout, i);
    for (auto p = span.first; p < span.end; ++p)
      t->wanted[static_cast<std::size_t>(p)] = true;
  }
  if (!all) t->side = data_dir / "downloads" / (protocol::to_hex(id) + ".parts");
  return std::shared_ptr<const torrent_tree>(std::move(t));
}

bool file_verified(const torrent_tree& t, std::size_t i, const chunk_set& have) {
  const auto span = bt::pieces_of(*t.layout, i);
  for (auto p = span.first; p < span.end; ++p)
    if (!have.has(static_cast<std::size_t>(p))) return false;
  return true;
}

std::vector<std::size_t> files_ready(const torrent_tree& t, const chunk_set& have,
                                     const std::vector<bool>& placed) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < t.layout->files.size(); ++i) {
    if (t.selected[i] && !placed[i] && file_verified(t, i, have)) out.push_back(i);
  }
  return out;
}

std::vector<std::size_t> files_ready(const torrent_tree& t, const chunk_set& have,
                                     const std::vector<bool>& placed,
                                     const std::vector<std::uint32_t>& pieces) {
  std::vector<std::size_t> out;
  const auto& l = *t.layout;
  for (const auto piece : pieces) {
    for (const auto& r : bt::ranges_of(l, std::uint64_t{piece} * l.piece_length, l.piece_length)) {
      const auto i = r.file;
      if (t.selected[i] && !placed[i] && file_verified(t, i, have) &&
          std::find(out.begin(), out.end(), i) == out.end()) {
        out.push_back(i);
      }
    }
  }
  return out;
}

namespace {

bool regular_file_of_size(const fs::path& p, std::uint64_t size) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<std::uint64_t>(st.st_size) == size;
}

bool exists_at_all(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

result<std::vector<bool>> prepare_tree(const torrent_tree& t, const chunk_set& have) {
  const auto& files = t.layout->files;
  std::vector<bool> placed(files.size(), false);
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!t.selected[i]) continue;
    const fs::path relative(files[i].path);
    if (auto made = make_directories_under(t.root, relative.parent_path()); !made)
      return error{made.error_message()};
    const auto partial = t.partial_path(i);
    if (exists_at_all(partial)) continue;  // resumed: reopened when written
    if (file_verified(t, i, have) && regular_file_of_size(t.final_path(i), files[i].length)) {
      placed[i] = true;  // placed by an earlier run
      continue;
    }
    auto fd = create_private(partial, files[i].length);
    if (!fd) return error{fd.error_message()};
    ::close(*fd);
  }
  if (!t.side.empty() && !exists_at_all(t.side)) {
    auto fd = create_private(t.side, t.layout->total_bytes);
    if (!fd) return error{"the side file: " + fd.error_message()};
    ::close(*fd);
  }
  return placed;
}

result<std::monostate> write_piece(file_pool& pool, const torrent_tree& t, std::uint64_t offset,
                                   std::span<const std::uint8_t> data) {
  for (const auto& r : bt::ranges_of(*t.layout, offset, data.size())) {
    if (t.layout->files[r.file].pad) continue;  // zeros (checked with the piece)
    auto file = pool.open(t, r.file);
    if (!file) return error{file.error_message()};
    // A file not selected: at its piece-space offset in the side file.
    const auto at = t.selected[r.file] ? r.file_offset : r.space_offset;
    const auto bytes = data.subspan(static_cast<std::size_t>(r.space_offset - offset),
                                    static_cast<std::size_t>(r.length));
    if (auto written = store::write_at(**file, at, bytes); !written) return written;
  }
  return std::monostate{};
}

result<std::vector<file_part>> open_parts(file_pool& pool, const torrent_tree& t,
                                          std::uint64_t offset, std::uint64_t length) {
  std::vector<file_part> parts;
  for (const auto& r : bt::ranges_of(*t.layout, offset, length)) {
    if (t.layout->files[r.file].pad) {
      parts.push_back({nullptr, 0, r.length});
      continue;
    }
    auto file = pool.open(t, r.file);
    if (!file) return error{file.error_message()};
    const auto at = t.selected[r.file] ? r.file_offset : r.space_offset;
    store::prefetch(**file, at, r.length);
    parts.push_back({std::move(*file), at, r.length});
  }
  return parts;
}

result<std::monostate> place_files(file_pool& pool, const torrent_tree& t,
                                   const std::vector<std::size_t>& which) {
  for (const auto i : which) {
    const auto partial = t.partial_path(i);
    const auto target = t.final_path(i);
    if (!exists_at_all(partial) && regular_file_of_size(target, t.layout->files[i].length))
      continue;  // renamed by an earlier run that stopped before it was recorded
    auto file = pool.open(t, i);
    if (!file) return error{file.error_message()};
    if (::fsync((*file)->fd()) != 0)
      return error{"cannot flush " + partial.string() + ": " + std::strerror(errno)};
    // Checked again: no link may have taken a directory's place meanwhile.
    const fs::path relative(t.layout->files[i].path);
    if (auto made = make_directories_under(t.root, relative.parent_path()); !made) return made;
    if (::rename(partial.c_str(), target.c_str()) != 0)
      return error{"cannot rename " + partial.string() + " into place: " + std::strerror(errno)};
  }
  return std::monostate{};
}

}  // namespace peerlab::peer

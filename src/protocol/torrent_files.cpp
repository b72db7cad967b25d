#include "protocol/torrent_files.hpp"

#include <algorithm>

namespace peerlab::protocol::bt {

namespace {

std::string joined(const std::vector<std::string>& segments) {
  std::string out;
  for (const auto& s : segments) {
    if (!out.empty()) out += '/';
    out += s;
  }
  return out;
}

// The first file that ends after `offset` (files are contiguous, so their
// ends never decrease).
std::size_t first_ending_after(const file_layout& l, std::uint64_t offset) {
  const auto it = std::partition_point(l.files.begin(), l.files.end(), [&](const layout_file& f) {
    return f.offset + f.length <= offset;
  });
  return static_cast<std::size_t>(it - l.files.begin());
}

}  // namespace

std::uint32_t file_layout::piece_size(std::uint64_t i) const {
  if (i >= piece_count()) return 0;
  const auto from = i * piece_length;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(piece_length, total_bytes - from));
}

result<file_layout> make_file_layout(const torrent_info& t) {
  if (!is_valid_piece_length(t.piece_length)) return error{"invalid piece length"};
  if (t.files.empty()) return error{"a torrent without files"};
  file_layout l;
  l.piece_length = t.piece_length;
  const bool v2_only = t.format == torrent_format::v2;
  // v2: a pad after a file that ends inside a piece, if bytes follow it.
  std::size_t last_with_bytes = 0;
  for (std::size_t i = 0; i < t.files.size(); ++i)
    if (t.files[i].length > 0) last_with_bytes = i;
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < t.files.size(); ++i) {
    const auto& f = t.files[i];
    if (!v2_only && f.offset != at) return error{"the torrent's files are not contiguous"};
    if (f.length > (std::uint64_t{1} << 62) - at) return error{"the torrent is too large"};
    layout_file e;
    e.path = f.pad ? std::string() : joined(f.path);
    e.offset = at;
    e.length = f.length;
    e.pad = f.pad;
    e.pieces_root = f.pieces_root;
    e.piece_layer = f.piece_layer;
    l.files.push_back(std::move(e));
    at += f.length;
    const auto tail = at % t.piece_length;
    if (v2_only && tail != 0 && i < last_with_bytes) {
      layout_file pad;
      pad.offset = at;
      pad.length = t.piece_length - tail;
      pad.pad = true;
      l.files.push_back(std::move(pad));
      at += t.piece_length - tail;
    }
  }
  if (!v2_only && at != t.total_size) return error{"the torrent's files do not add up to its size"};
  l.total_bytes = at;
  if (l.piece_count() > max_pieces) return error{"more pieces than the maximum"};
  return l;
}

std::vector<file_range> ranges_of(const file_layout& l, std::uint64_t offset,
                                  std::uint64_t length) {
  std::vector<file_range> out;
  const auto end = std::min(l.total_bytes, offset + std::min(length, l.total_bytes));
  for (auto i = first_ending_after(l, offset); i < l.files.size() && offset < end; ++i) {
    const auto& f = l.files[i];
    if (f.length == 0) continue;
    const auto until = std::min(end, f.offset + f.length);
    out.push_back({i, offset - f.offset, until - offset, offset});
    offset = until;
  }
  return out;
}

piece_span pieces_of(const file_layout& l, std::size_t i) {
  if (i >= l.files.size() || l.piece_length == 0) return {};
  const auto& f = l.files[i];
  const auto first = f.offset / l.piece_length;
  if (f.length == 0) return {first, first};
  return {first, (f.offset + f.length + l.piece_length - 1) / l.piece_length};
}

std::optional<std::size_t> file_at_piece(const file_layout& l, std::uint64_t piece) {
  if (piece >= l.piece_count()) return std::nullopt;
  const auto at = piece * l.piece_length;
  for (auto i = first_ending_after(l, at); i < l.files.size(); ++i) {
    const auto& f = l.files[i];
    if (f.length == 0) continue;
    if (f.pad) return std::nullopt;
    return i;
  }
  return std::nullopt;
}

result<std::vector<bool>> select_files(const file_layout& l, const std::vector<std::string>& only) {
  std::vector<bool> chosen(l.files.size(), only.empty());
  for (std::size_t i = 0; i < l.files.size(); ++i)
    if (l.files[i].pad) chosen[i] = false;
  for (auto path : only) {
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
    if (path.empty() || path.front() == '/')
      return error{"--only '" + path + "': give a path inside the torrent"};
    bool any = false;
    for (std::size_t i = 0; i < l.files.size(); ++i) {
      const auto& p = l.files[i].path;
      if (l.files[i].pad) continue;
      if (p == path || (p.size() > path.size() && p.starts_with(path) && p[path.size()] == '/'))
        chosen[i] = any = true;
    }
    if (!any) return error{"the torrent has no file or directory '" + path + "'"};
  }
  return chosen;
}

}  // namespace peerlab::protocol::bt

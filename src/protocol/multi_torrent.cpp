// Building a multi-file torrent (v1 with BEP 47 pads, v2, hybrid) from a
// folder's files and their hashes.

#include "protocol/multi_torrent.hpp"

#include <algorithm>
#include <numeric>

#include "protocol/bencode.hpp"
#include "protocol/manifest.hpp"
#include "protocol/messages.hpp"

namespace peerlab::protocol::bt {

namespace {

constexpr std::uint32_t preferred_piece_bytes = 256 * 1024;

std::uint64_t pieces_of(std::uint64_t size, std::uint32_t piece_length) {
  return (size + piece_length - 1) / piece_length;
}

// The pad after a file of `size` bytes that another file follows (0: none).
std::uint64_t pad_after(std::uint64_t size, std::uint32_t piece_length) {
  const auto tail = size % piece_length;
  return tail == 0 ? 0 : piece_length - tail;
}

bool is_prefix(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return a.size() < b.size() && std::equal(a.begin(), a.end(), b.begin());
}

std::string path_text(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& segment : path)
    out += (out.empty() ? "" : "/") + printable_name(segment);
  return out;
}

std::string path_problem(const std::vector<std::string>& path) {
  const torrent_limits limits;
  if (path.empty() || path.size() > limits.max_path_depth) return "a path empty or too deep";
  std::size_t bytes = 0;
  for (const auto& segment : path) {
    if (!is_safe_file_name(segment)) return "an unsafe path segment";
    bytes += segment.size() + 1;
  }
  return bytes > limits.max_path_bytes ? "a path too long" : "";
}

std::string hashes_problem(const multi_torrent_file& f, std::uint32_t piece_length,
                           torrent_format format, bool padded) {
  const auto count = pieces_of(f.size, piece_length);
  const auto& h = f.hashes.hashes;
  if (format != torrent_format::v2) {
    if (h.v1_pieces.size() != count) return "v1 piece hashes do not match its size";
    if (padded && !f.hashes.v1_padded_last) return "no v1 hash of its last piece with the pad";
  }
  if (format != torrent_format::v1) {
    if (h.piece_layer.size() != (f.size > piece_length ? count : 0))
      return "piece layer does not match its size";
  }
  return "";
}

// The v2 `file tree` of files[order[lo..hi)], all of whose paths share their
// first `depth` segments: one dict per directory, keys in sorted order
// because the files are (appended in order, not inserted one by one).
bvalue file_tree(const multi_torrent_source& s, const std::vector<std::size_t>& order,
                 std::size_t lo, std::size_t hi, std::size_t depth) {
  auto node = bvalue::make_dict();
  for (std::size_t i = lo; i < hi;) {
    const auto& f = s.files[order[i]];
    const auto& segment = f.path[depth];
    std::size_t j = i + 1;
    while (j < hi && s.files[order[j]].path[depth] == segment)
      ++j;
    if (f.path.size() == depth + 1) {  // a file (no directory shares its path)
      auto leaf = bvalue::make_dict();
      leaf.set("length", f.size);
      if (f.size > 0) leaf.set("pieces root", byte_string(f.hashes.hashes.pieces_root));
      auto entry = bvalue::make_dict();
      entry.set("", std::move(leaf));
      node.as_dict().emplace_back(segment, std::move(entry));
    } else {
      node.as_dict().emplace_back(segment, file_tree(s, order, i, j, depth + 1));
    }
    i = j;
  }
  return node;
}

bvalue v1_file_entry(const torrent_file_entry& e) {
  auto entry = bvalue::make_dict();
  if (e.pad) entry.set("attr", "p");
  entry.set("length", e.length);
  bvalue::list path;
  for (const auto& segment : e.path)
    path.emplace_back(segment);
  entry.set("path", bvalue(std::move(path)));
  return entry;
}

}  // namespace

std::uint64_t aligned_piece_count(std::span<const std::uint64_t> sizes,
                                  std::uint32_t piece_length) {
  std::uint64_t count = 0;
  for (const auto size : sizes)
    count += pieces_of(size, piece_length);
  return count;
}

std::uint32_t multi_torrent_piece_length(std::span<const std::uint64_t> sizes) {
  const auto total = std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0});
  const auto padding = [&](std::uint32_t length) {
    std::uint64_t bytes = 0;
    for (const auto size : sizes)
      bytes += pad_after(size, length);
    return bytes;
  };
  // Pads cost nothing on the wire but their zeros are hashed (by us and by
  // every v1 client): with many small files, smaller pieces.
  std::uint32_t length = preferred_piece_bytes;
  while (length > min_piece_bytes && padding(length) > total)
    length /= 2;
  while (length < max_piece_bytes && aligned_piece_count(sizes, length) > max_multi_torrent_pieces)
    length *= 2;
  return length;
}

bool path_before(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  // std::string compares bytes as unsigned char: the order of bencoded keys.
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

result<built_multi_torrent> make_multi_torrent(const multi_torrent_source& s,
                                               torrent_format format) {
  if (!is_safe_file_name(s.name)) return error{"torrent name is not a safe file name"};
  if (!is_valid_piece_length(s.piece_length)) {
    return error{"piece length " + std::to_string(s.piece_length) +
                 " is not a power of two between 16 KiB and 64 MiB"};
  }
  if (s.files.empty()) return error{"a torrent needs at least one file"};
  if (s.files.size() > torrent_limits{}.max_files) return error{"too many files for a torrent"};

  std::vector<std::size_t> order(s.files.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return path_before(s.files[a].path, s.files[b].path);
  });
  std::uint64_t data_bytes = 0, pieces = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& f = s.files[order[k]];
    if (auto p = path_problem(f.path); !p.empty()) return error{"torrent: " + p};
    // Sorted: a path equal to the next one, or the next one's directory,
    // is right before it.
    if (k + 1 < order.size()) {
      const auto& next = s.files[order[k + 1]].path;
      if (next == f.path || is_prefix(f.path, next))
        return error{"torrent: two files at " + path_text(f.path)};
    }
    const bool padded = k + 1 < order.size() && pad_after(f.size, s.piece_length) > 0;
    if (auto p = hashes_problem(f, s.piece_length, format, padded); !p.empty())
      return error{"torrent: " + path_text(f.path) + ": " + p};
    if (f.size > torrent_limits{}.max_total_bytes - data_bytes)
      return error{"torrent: files larger than the maximum"};
    data_bytes += f.size;
    pieces += pieces_of(f.size, s.piece_length);
  }
  if (data_bytes == 0) return error{"a torrent needs at least one byte"};
  if (pieces > max_multi_torrent_pieces) {
    return error{"torrent: " + std::to_string(pieces) + " pieces of " +
                 std::to_string(s.piece_length) + " bytes are more than " +
                 std::to_string(max_multi_torrent_pieces)};
  }

  // The piece space: each file, then its pad (none after the last).
  built_multi_torrent out;
  std::string v1_pieces;
  if (format != torrent_format::v2) v1_pieces.reserve(pieces * 20);
  std::uint64_t offset = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& f = s.files[order[k]];
    torrent_file_entry e{f.path, f.size, offset, false, {}, {}};
    if (f.size > 0) e.pieces_root = f.hashes.hashes.pieces_root;
    out.layout.push_back(std::move(e));
    out.source_index.push_back(order[k]);
    offset += f.size;
    const auto pad = k + 1 < order.size() ? pad_after(f.size, s.piece_length) : 0;
    if (format != torrent_format::v2 && f.size > 0) {
      // Its last piece ends with the pad's zeros, if a pad follows.
      const auto& hashes = f.hashes.hashes.v1_pieces;
      for (std::size_t i = 0; i < hashes.size(); ++i) {
        const auto& h = i + 1 == hashes.size() && pad > 0 ? *f.hashes.v1_padded_last : hashes[i];
        v1_pieces.append(reinterpret_cast<const char*>(h.data()), h.size());
      }
    }
    if (pad > 0) {
      out.layout.push_back({{".pad", std::to_string(pad)}, pad, offset, true, {}, {}});
      out.source_index.push_back(pad_entry);
      offset += pad;
    }
  }
  out.total_size = offset;

  const bool v1 = format != torrent_format::v2;
  const bool v2 = format != torrent_format::v1;
  auto info = bvalue::make_dict();
  info.set("name", s.name);
  info.set("piece length", s.piece_length);
  if (v1) {
    bvalue::list files;
    files.reserve(out.layout.size());
    for (const auto& e : out.layout)
      files.push_back(v1_file_entry(e));
    info.set("files", bvalue(std::move(files)));
    info.set("pieces", std::move(v1_pieces));
  }
  if (v2) {
    info.set("file tree", file_tree(s, order, 0, order.size(), 0));
    info.set("meta version", 2);
  }
  out.torrent.info_bytes = bencode(info);
  out.torrent.hashes = compute_info_hashes(out.torrent.info_bytes, format);

  auto root = bvalue::make_dict();
  if (!s.announce.empty()) root.set("announce", s.announce);
  if (!s.created_by.empty()) root.set("created by", s.created_by);
  if (s.creation_date) root.set("creation date", *s.creation_date);
  root.set("info", std::move(info));
  if (v2) {
    // One entry per distinct root (identical files share theirs).
    std::vector<std::pair<std::string, bvalue>> layers;
    for (const auto& f : s.files) {
      if (f.hashes.hashes.piece_layer.empty()) continue;
      layers.emplace_back(byte_string(f.hashes.hashes.pieces_root),
                          bvalue(concatenated(f.hashes.hashes.piece_layer)));
    }
    if (!layers.empty()) root.set("piece layers", bvalue(bvalue::dict(std::move(layers))));
  }
  out.torrent.bytes = bencode(root);
  return out;
}

}  // namespace peerlab::protocol::bt

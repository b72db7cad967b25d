// Reading .torrent files and info dictionaries from anywhere: every field
// is checked, every path confined (issue 20's rules), every count bounded.

#include <algorithm>
#include <set>

#include "protocol/bencode.hpp"
#include "protocol/manifest.hpp"
#include "protocol/torrent.hpp"

namespace peerlab::protocol::bt {

namespace {

bdecode_limits decode_limits(const torrent_limits& limits, std::size_t max_bytes) {
  bdecode_limits b;
  b.max_input_bytes = max_bytes;
  // A v2 file tree nests one dict per path segment, below root/info/tree
  // and above the file's "" entry.
  b.max_depth = limits.max_path_depth + 6;
  b.max_tokens = limits.max_files * 10 + 4096;
  return b;
}

template <class Digest>
bool copy_digest(const bvalue* v, Digest& out) {
  if (!v || !v->is_string() || v->as_string().size() != out.size()) return false;
  std::copy(v->as_string().begin(), v->as_string().end(), out.begin());
  return true;
}

template <class Digest>
std::vector<Digest> split_digests(const std::string& bytes) {
  std::vector<Digest> out(bytes.size() / sizeof(Digest));
  for (std::size_t i = 0; i < out.size(); ++i)
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(i * sizeof(Digest)), sizeof(Digest),
                out[i].begin());
  return out;
}

// Reads the info dictionary into `out`; "" or what is wrong with it.
class info_reader {
 public:
  info_reader(const torrent_limits& limits, torrent_info& out) : limits_(limits), out_(out) {}

  std::string read(const bvalue& info) {
    if (!info.is_dict()) return "info is not a dictionary";
    const auto* name = info.find_string("name");
    if (!name || !is_safe_file_name(name->as_string())) return "torrent name missing or unsafe";
    out_.name = name->as_string();
    const auto* piece_length = info.find_int("piece length");
    if (!piece_length ||
        !is_valid_piece_length(static_cast<std::uint64_t>(piece_length->as_int()))) {
      return "piece length missing or not a power of two between 16 KiB and 64 MiB";
    }
    out_.piece_length = static_cast<std::uint32_t>(piece_length->as_int());

    const auto* meta_version = info.find("meta version");
    const auto* tree = info.find("file tree");
    const bool v2 = meta_version != nullptr;
    if (v2 && (!meta_version->is_int() || meta_version->as_int() != 2)) {
      return "unknown meta version";
    }
    if (v2 != (tree != nullptr)) return "meta version 2 and file tree go together";
    const bool v1 = info.find("pieces") != nullptr;
    if (!v1 && !v2) return "neither v1 pieces nor a v2 file tree";
    out_.format = v1 && v2 ? torrent_format::hybrid : v1 ? torrent_format::v1 : torrent_format::v2;

    std::vector<torrent_file_entry> v1_files, v2_files;
    if (v1) {
      if (auto p = read_v1(info, v1_files); !p.empty()) return p;
    }
    if (v2) {
      if (!tree->is_dict()) return "file tree is not a dictionary";
      if (auto p = read_tree(*tree, {}, 0, v2_files); !p.empty()) return p;
      if (v2_files.empty()) return "file tree holds no file";
      if (auto p = check_v2_sizes(v2_files); !p.empty()) return p;
    }
    if (v1 && v2) {
      if (auto p = check_hybrid(v1_files, v2_files); !p.empty()) return p;
    }
    out_.files = v1 ? std::move(v1_files) : std::move(v2_files);
    if (!v1) {
      out_.multi_file = !(out_.files.size() == 1 && out_.files[0].path.size() == 1);
      std::uint64_t total = 0;
      for (auto& f : out_.files) {
        f.offset = total;
        total += f.length;
      }
      out_.total_size = total;
    }
    if (v1 && v2) {
      // Hybrid: carry the v2 roots over to the matching v1 entries (a v2
      // torrent's files already hold theirs).
      std::size_t j = 0;
      for (auto& f : out_.files) {
        if (f.pad) continue;
        f.pieces_root = v2_roots_[j++];
      }
    }
    return "";
  }

 private:
  std::string check_path(const std::vector<std::string>& path) {
    if (path.empty() || path.size() > limits_.max_path_depth) return "path empty or too deep";
    std::size_t bytes = 0;
    for (const auto& segment : path) {
      // No "", ".", "..", separators, NUL or control characters: a path
      // from a torrent can never leave the download directory.
      if (!is_safe_file_name(segment)) return "unsafe path segment in a file name";
      bytes += segment.size() + 1;
    }
    if (bytes > limits_.max_path_bytes) return "path too long";
    return "";
  }

  std::string add_file(std::vector<torrent_file_entry>& files, torrent_file_entry f) {
    if (files.size() >= limits_.max_files) return "more than the maximum number of files";
    if (auto p = check_path(f.path); !p.empty()) return p;
    files.push_back(std::move(f));
    return "";
  }

  std::string read_v1(const bvalue& info, std::vector<torrent_file_entry>& files) {
    const auto* pieces = info.find_string("pieces");
    if (!pieces || pieces->as_string().size() % 20 != 0) return "v1 pieces are not 20-byte hashes";
    const auto* length = info.find("length");
    const auto* list = info.find("files");
    if ((length != nullptr) == (list != nullptr)) return "v1 info needs either length or files";
    std::uint64_t total = 0;
    if (length) {
      if (!length->is_int() || length->as_int() < 0) return "file length is not a size";
      total = static_cast<std::uint64_t>(length->as_int());
      if (auto p = add_file(files, {{out_.name}, total, 0, false, {}, {}}); !p.empty()) return p;
    } else {
      if (!list->is_list()) return "files is not a list";
      out_.multi_file = true;
      for (const auto& entry : list->as_list()) {
        const auto* len = entry.find_int("length");
        const auto* path = entry.find_list("path");
        if (!len || len->as_int() < 0 || !path) return "file entry without length or path";
        torrent_file_entry f;
        f.length = static_cast<std::uint64_t>(len->as_int());
        for (const auto& segment : path->as_list()) {
          if (!segment.is_string()) return "path segment is not a string";
          if (f.path.size() >= limits_.max_path_depth) return "path too deep";
          f.path.push_back(segment.as_string());
        }
        const auto* attr = entry.find_string("attr");
        f.pad = attr && attr->as_string().find('p') != std::string::npos;
        if (f.length > limits_.max_total_bytes - total) return "files larger than the maximum";
        f.offset = total;
        total += f.length;
        if (auto p = add_file(files, std::move(f)); !p.empty()) return p;
      }
      if (files.empty()) return "files is empty";
      if (auto p = check_unique_paths(files); !p.empty()) return p;
    }
    if (total > limits_.max_total_bytes) return "torrent larger than the maximum";
    const std::uint64_t count = (total + out_.piece_length - 1) / out_.piece_length;
    if (count > max_pieces) return "more pieces than the maximum";
    if (pieces->as_string().size() / 20 != count) return "v1 piece count does not match the size";
    out_.v1_pieces = split_digests<sha1_digest>(pieces->as_string());
    out_.total_size = total;
    return "";
  }

  // No two files at one path, and no file where another has a directory.
  std::string check_unique_paths(const std::vector<torrent_file_entry>& files) {
    std::set<std::vector<std::string>> seen;
    for (const auto& f : files)
      if (!f.pad && !seen.insert(f.path).second) return "two files at one path";
    for (auto it = seen.begin(); it != seen.end(); ++it) {
      const auto next = std::next(it);
      if (next != seen.end() && next->size() > it->size() &&
          std::equal(it->begin(), it->end(), next->begin())) {
        return "a file where another file has a directory";
      }
    }
    return "";
  }

  std::string read_tree(const bvalue& node, std::vector<std::string> path, std::size_t depth,
                        std::vector<torrent_file_entry>& files) {
    if (depth >= limits_.max_path_depth) return "file tree too deep";
    if (node.as_dict().empty()) return "empty directory in the file tree";
    for (const auto& [name, child] : node.as_dict()) {
      if (!child.is_dict()) return "file tree entry is not a dictionary";
      path.push_back(name);
      if (const auto* leaf = child.find("")) {
        if (child.as_dict().size() != 1 || !leaf->is_dict())
          return "file entry mixed with a directory";
        const auto* length = leaf->find_int("length");
        if (!length || length->as_int() < 0) return "v2 file without a length";
        torrent_file_entry f{path, static_cast<std::uint64_t>(length->as_int()), 0, false, {}, {}};
        if (f.length > 0) {
          sha256_digest root{};
          if (!copy_digest(leaf->find("pieces root"), root))
            return "v2 file without its pieces root";
          f.pieces_root = root;
        }
        v2_roots_.push_back(f.pieces_root);
        if (auto p = add_file(files, std::move(f)); !p.empty()) return p;
      } else {
        if (auto p = read_tree(child, path, depth + 1, files); !p.empty()) return p;
      }
      path.pop_back();
    }
    return "";
  }

  std::string check_v2_sizes(const std::vector<torrent_file_entry>& files) {
    std::uint64_t total = 0, pieces = 0;
    for (const auto& f : files) {
      if (f.length > limits_.max_total_bytes - total) return "files larger than the maximum";
      total += f.length;
      pieces += (f.length + out_.piece_length - 1) / out_.piece_length;
    }
    if (pieces > max_pieces) return "more pieces than the maximum";
    return "";
  }

  // BEP 52: the v1 half of a hybrid lists the same files (plus pad files
  // aligning each to a piece), so v1 and v2 peers fetch the same bytes.
  std::string check_hybrid(const std::vector<torrent_file_entry>& v1_files,
                           const std::vector<torrent_file_entry>& v2_files) {
    std::size_t j = 0;
    for (const auto& f : v1_files) {
      if (f.pad) continue;
      if (j >= v2_files.size() || f.path != v2_files[j].path || f.length != v2_files[j].length) {
        return "the v1 and v2 parts of a hybrid torrent describe different files";
      }
      if (f.offset % out_.piece_length != 0) return "hybrid file not aligned on a piece";
      ++j;
    }
    if (j != v2_files.size())
      return "the v1 and v2 parts of a hybrid torrent describe different files";
    return "";
  }

  const torrent_limits& limits_;
  torrent_info& out_;
  std::vector<std::optional<sha256_digest>> v2_roots_;  // in file tree order
};

// Fills each v2 file's piece layer from the root's `piece layers`, checking
// that it hashes up to the file's root.
std::string read_piece_layers(const bvalue* layers, torrent_info& out) {
  out.piece_layers_complete = true;  // until a file lacks its layer; v1 needs none
  if (out.format == torrent_format::v1) return "";
  if (layers && !layers->is_dict()) return "piece layers is not a dictionary";
  const piece_layout layout{0, out.piece_length};
  const auto pad = merkle_pad(log2_exact(layout.blocks_per_piece()));
  for (auto& f : out.files) {
    if (f.pad || f.length <= out.piece_length) continue;
    const std::string key(f.pieces_root->begin(), f.pieces_root->end());
    const auto* layer = layers ? layers->find_string(key) : nullptr;
    if (!layer) {
      out.piece_layers_complete = false;  // to be fetched by BEP 52 hash requests
      continue;
    }
    const std::uint64_t count = (f.length + out.piece_length - 1) / out.piece_length;
    if (layer->as_string().size() != count * 32) return "piece layer of the wrong size";
    f.piece_layer = split_digests<sha256_digest>(layer->as_string());
    if (merkle_root(f.piece_layer, merkle_width(count), pad) != *f.pieces_root) {
      return "piece layer does not hash to the file's pieces root";
    }
  }
  return "";
}

void read_trackers(const bvalue& root, const torrent_limits& limits, torrent_info& out) {
  const auto add = [&](const bvalue& url) {
    if (!url.is_string() || out.trackers.size() >= limits.max_trackers) return;
    const auto& s = url.as_string();
    const bool printable = std::all_of(s.begin(), s.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    if (s.empty() || s.size() > 2048 || !printable) return;
    if (std::find(out.trackers.begin(), out.trackers.end(), s) == out.trackers.end()) {
      out.trackers.push_back(s);
    }
  };
  if (const auto* announce = root.find("announce")) add(*announce);
  if (const auto* tiers = root.find_list("announce-list")) {
    for (const auto& tier : tiers->as_list())
      if (tier.is_list())
        for (const auto& url : tier.as_list())
          add(url);
  }
}

result<torrent_info> read_info(const bvalue& info, std::span<const std::uint8_t> raw,
                               const torrent_limits& limits) {
  torrent_info out;
  info_reader reader(limits, out);
  if (auto problem = reader.read(info); !problem.empty()) return error{"torrent: " + problem};
  out.info_bytes.assign(raw.begin(), raw.end());
  out.hashes = compute_info_hashes(raw, out.format);
  return out;
}

}  // namespace

result<torrent_info> parse_info_dict(std::span<const std::uint8_t> info_bytes,
                                     const torrent_limits& limits) {
  auto info = bdecode(info_bytes, decode_limits(limits, limits.max_torrent_bytes));
  if (!info) return error{"torrent info: " + info.error_message()};
  auto out = read_info(*info, info_bytes, limits);
  if (out) read_piece_layers(nullptr, *out);  // none here: marks what is missing
  return out;
}

result<torrent_info> parse_torrent(std::span<const std::uint8_t> bytes,
                                   const torrent_limits& limits) {
  auto root = bdecode(bytes, decode_limits(limits, limits.max_torrent_bytes));
  if (!root) return error{"torrent: " + root.error_message()};
  const auto* info = root->find_dict("info");
  if (!info) return error{"torrent: no info dictionary"};
  auto out = read_info(*info, bytes.subspan(info->source_offset(), info->source_length()), limits);
  if (!out) return out;
  if (auto problem = read_piece_layers(root->find("piece layers"), *out); !problem.empty()) {
    return error{"torrent: " + problem};
  }
  read_trackers(*root, limits, *out);
  return out;
}

}  // namespace peerlab::protocol::bt

#include "protocol/folder_manifest.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace peerlab::protocol {

namespace {

constexpr std::size_t min_entry_bytes = 1 + 2 + 1;  // kind, path length, one path byte

// Little-endian fields, written and read by hand: the layout is the one in
// docs/protocol.md §4.4, byte for byte.
void put_le(std::vector<std::uint8_t>& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

class reader {
 public:
  explicit reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t left() const { return bytes_.size() - at_; }
  bool take(std::size_t n, std::span<const std::uint8_t>& out) {
    if (left() < n) return false;
    out = bytes_.subspan(at_, n);
    at_ += n;
    return true;
  }
  bool le(int n, std::uint64_t& value) {
    std::span<const std::uint8_t> field;
    if (!take(static_cast<std::size_t>(n), field)) return false;
    value = 0;
    for (int i = n - 1; i >= 0; --i)
      value = (value << 8) | field[static_cast<std::size_t>(i)];
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // the sequence runs past the end
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr std::uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_of[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// File systems that ignore case (and ext4 with casefold) would put "A.txt"
// and "a.txt" in one file: entries are compared with ASCII letters folded.
std::string folded(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string quoted(std::string_view path) {
  std::string out = "'";
  for (const char c : path.substr(0, 80)) {
    const auto b = static_cast<unsigned char>(c);
    out += (b < 0x20 || b == 0x7f) ? '?' : c;
  }
  return out + (path.size() > 80 ? "...'" : "'");
}

}  // namespace

std::uint64_t folder_manifest::total_bytes() const {
  std::uint64_t total = 0;
  for (const auto& e : entries)
    total += e.size;
  return total;
}

std::size_t folder_manifest::file_count() const {
  return static_cast<std::size_t>(
      std::count_if(entries.begin(), entries.end(), [](const auto& e) { return e.is_file(); }));
}

std::string folder_path_problem(std::string_view path) {
  if (path.empty()) return "an empty path";
  if (path.size() > max_folder_path_bytes) {
    return "a path of " + std::to_string(path.size()) + " bytes (at most " +
           std::to_string(max_folder_path_bytes) + ")";
  }
  if (path.front() == '/') return "an absolute path " + quoted(path);
  if (!valid_utf8(path)) return "a path that is not UTF-8: " + quoted(path);
  std::size_t depth = 0;
  for (std::size_t start = 0; start <= path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto segment = path.substr(start, end - start);
    if (++depth > max_folder_depth) {
      return "a path deeper than " + std::to_string(max_folder_depth) + " levels";
    }
    if (segment.empty()) return "an empty segment in " + quoted(path);
    if (segment == "." || segment == "..") {
      return "a '" + std::string(segment) + "' segment in " + quoted(path);
    }
    if (segment.size() > max_file_name_bytes) return "a name longer than 255 bytes";
    for (const char c : segment) {
      const auto b = static_cast<unsigned char>(c);
      if (b == 0) return "a NUL byte in " + quoted(path);
      if (c == '\\') return "a backslash in " + quoted(path);
      if (b < 0x20 || b == 0x7f) return "a control character in " + quoted(path);
    }
    start = end + 1;
  }
  return "";
}

void sort_folder_entries(std::vector<folder_entry>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const folder_entry& a, const folder_entry& b) { return a.path < b.path; });
}

std::string folder_entries_problem(const folder_manifest& f) {
  if (!is_safe_file_name(f.name)) return "an unsafe folder name " + quoted(f.name);
  if (f.entries.size() > max_folder_entries) {
    return std::to_string(f.entries.size()) + " entries (at most " +
           std::to_string(max_folder_entries) + ")";
  }
  // What each path (ASCII case folded) is on disk: a file, an empty
  // directory, or a directory that holds something.
  enum class seen { file, empty_directory, directory };
  std::unordered_map<std::string, seen> on_disk;
  std::uint64_t total = 0;
  const std::string* previous = nullptr;
  for (const auto& e : f.entries) {
    if (auto why = folder_path_problem(e.path); !why.empty()) return why;
    if (previous && !(*previous < e.path)) {
      return *previous == e.path ? "the path " + quoted(e.path) + " twice"
                                 : "entries out of order at " + quoted(e.path);
    }
    previous = &e.path;
    if (e.kind != folder_entry_kind::file && e.kind != folder_entry_kind::empty_directory)
      return "an unknown entry kind";
    if (!e.is_file() && (e.size != 0 || e.id != content_id{}))
      return "a directory with a size or id";
    if (e.size > max_file_bytes) return "a file larger than 128 GiB: " + quoted(e.path);
    total += e.size;
    if (total > max_folder_bytes) return "a folder larger than 4 TiB";
    const auto key = folded(e.path);
    // Every directory above it holds something: none may be a file or empty.
    for (auto slash = key.find('/'); slash != std::string::npos; slash = key.find('/', slash + 1)) {
      const auto [it, added] = on_disk.try_emplace(key.substr(0, slash), seen::directory);
      if (it->second == seen::file) {
        return quoted(e.path.substr(0, slash)) + " is both a file and a directory";
      }
      if (it->second == seen::empty_directory) {
        return "the empty directory " + quoted(e.path.substr(0, slash)) + " has contents";
      }
    }
    const auto [it, added] =
        on_disk.try_emplace(key, e.is_file() ? seen::file : seen::empty_directory);
    if (!added) {
      if (it->second == seen::directory) {
        return quoted(e.path) + (e.is_file() ? " is both a file and a directory"
                                             : " is listed empty but has contents");
      }
      return quoted(e.path) + " and another entry differ only in case";
    }
  }
  return "";
}

bool is_folder_manifest(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 4 && std::memcmp(bytes.data(), folder_magic, 4) == 0;
}

std::vector<std::uint8_t> encode_folder_manifest(const folder_manifest& f) {
  std::vector<std::uint8_t> out(std::begin(folder_magic), std::end(folder_magic));
  out.push_back(folder_format_version);
  put_le(out, f.name.size(), 1);
  out.insert(out.end(), f.name.begin(), f.name.end());
  put_le(out, f.entries.size(), 4);
  for (const auto& e : f.entries) {
    out.push_back(static_cast<std::uint8_t>(e.kind));
    put_le(out, e.path.size(), 2);
    out.insert(out.end(), e.path.begin(), e.path.end());
    if (!e.is_file()) continue;
    put_le(out, e.size, 8);
    out.insert(out.end(), e.id.begin(), e.id.end());
  }
  return out;
}

result<folder_manifest> decode_folder_manifest(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > max_folder_manifest_bytes) {
    return error{"folder manifest of " + std::to_string(bytes.size()) + " bytes (at most " +
                 std::to_string(max_folder_manifest_bytes) + ")"};
  }
  if (!is_folder_manifest(bytes)) return error{"not a folder manifest"};
  reader in(bytes.subspan(4));
  std::uint64_t version = 0, name_bytes = 0, count = 0;
  std::span<const std::uint8_t> field;
  if (!in.le(1, version) || version != folder_format_version) {
    return error{"folder manifest version " + std::to_string(version) + " (this node reads 1)"};
  }
  folder_manifest f;
  if (!in.le(1, name_bytes) || !in.take(name_bytes, field))
    return error{"folder manifest truncated"};
  f.name.assign(field.begin(), field.end());
  if (!in.le(4, count)) return error{"folder manifest truncated"};
  if (count > max_folder_entries) {
    return error{"folder manifest of " + std::to_string(count) + " entries (at most " +
                 std::to_string(max_folder_entries) + ")"};
  }
  // A few bytes claiming 100 000 entries must not reserve room for them.
  if (count > in.left() / min_entry_bytes) return error{"folder manifest truncated"};
  f.entries.resize(static_cast<std::size_t>(count));
  for (auto& e : f.entries) {
    std::uint64_t kind = 0, path_bytes = 0;
    if (!in.le(1, kind) || !in.le(2, path_bytes) || !in.take(path_bytes, field))
      return error{"folder manifest truncated"};
    if (kind > 1) return error{"folder manifest entry of unknown kind " + std::to_string(kind)};
    e.kind = static_cast<folder_entry_kind>(kind);
    e.path.assign(field.begin(), field.end());
    if (!e.is_file()) continue;
    if (!in.le(8, e.size) || !in.take(e.id.size(), field))
      return error{"folder manifest truncated"};
    std::copy(field.begin(), field.end(), e.id.begin());
  }
  if (in.left() != 0) {
    return error{std::to_string(in.left()) + " unexpected bytes after the folder manifest"};
  }
  if (auto why = folder_entries_problem(f); !why.empty())
    return error{"folder manifest with " + why};
  return f;
}

manifest folder_file_manifest(std::uint64_t size, std::vector<sha256_digest> chunk_hashes) {
  manifest m;
  m.name = std::string(folder_file_name);
  m.size = size;
  m.chunk_size = chunk_size_for(size);
  m.chunk_hashes = std::move(chunk_hashes);
  return m;
}

result<std::vector<std::size_t>> select_folder_entries(const folder_manifest& f,
                                                       const std::vector<std::string>& wanted) {
  std::vector<bool> chosen(f.entries.size(), false);
  for (auto path : wanted) {
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
    if (auto why = folder_path_problem(path); !why.empty()) {
      return error{"--only " + quoted(path) + ": " + why};
    }
    bool any = false;
    for (std::size_t i = 0; i < f.entries.size(); ++i) {
      const auto& p = f.entries[i].path;
      if (p == path || (p.size() > path.size() && p.starts_with(path) && p[path.size()] == '/')) {
        chosen[i] = any = true;
      }
    }
    if (!any) return error{"the folder " + f.name + " has no file or directory " + quoted(path)};
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i] || wanted.empty()) out.push_back(i);
  }
  return out;
}

}  // namespace peerlab::protocol

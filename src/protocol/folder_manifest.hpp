#pragma once
// A folder's manifest: its name and, in one canonical order, every file (a
// relative path, its size and the content id of the file's own manifest) and
// every empty directory. The folder's content id is the SHA-256 of this
// encoding, as a file's is of its manifest, so one id names either.
//
// Each file of a folder is an ordinary content: its own manifest (named
// folder_file_name, so identical files anywhere share one id and its chunks)
// and chunks that never cross into another file. A folder manifest from a
// peer is hostile: decode_folder_manifest refuses any path that could write
// outside the target directory or that two entries would share on disk
// (docs/protocol.md §4.4 lists every rule).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/manifest.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol {

// "PLFD": told apart from a file manifest (which starts 0x01) by its first byte.
inline constexpr std::uint8_t folder_magic[4] = {'P', 'L', 'F', 'D'};
inline constexpr std::uint8_t folder_format_version = 1;
inline constexpr std::size_t max_folder_entries = 100'000;
inline constexpr std::size_t max_folder_path_bytes = 1024;
inline constexpr std::size_t max_folder_depth = 32;                        // path segments
inline constexpr std::uint64_t max_folder_bytes = std::uint64_t{1} << 42;  // 4 TiB in all
// Fits one manifest_data frame with room to spare (max_frame_bytes is 4 MiB + 4 KiB).
inline constexpr std::size_t max_folder_manifest_bytes = 4 * 1024 * 1024;
// The name in the manifest of every file of a folder: the folder manifest
// says where it goes, so its content id depends on its bytes alone.
inline constexpr std::string_view folder_file_name = "folder-file";

enum class folder_entry_kind : std::uint8_t { file = 0, empty_directory = 1 };

struct folder_entry {
  folder_entry_kind kind = folder_entry_kind::file;
  std::string path;        // relative, '/'-separated UTF-8 (see folder_path_problem)
  std::uint64_t size = 0;  // files only
  content_id id{};         // files only: the id of the file's own manifest

  bool is_file() const { return kind == folder_entry_kind::file; }
  bool operator==(const folder_entry&) const = default;
};

struct folder_manifest {
  std::string name;                   // the folder's own name (is_safe_file_name)
  std::vector<folder_entry> entries;  // sorted by path, bytewise

  std::uint64_t total_bytes() const;
  std::size_t file_count() const;
  bool operator==(const folder_manifest&) const = default;
};

// Why `path` may not name an entry of a folder, or "" if it may: empty, too
// long or too deep, absolute, an empty, "." or ".." segment, a segment longer
// than a file name may be, a NUL, control character or backslash, invalid UTF-8.
std::string folder_path_problem(std::string_view path);

// Sorts the entries into canonical order; then encode, or check, them.
void sort_folder_entries(std::vector<folder_entry>& entries);
// Why these entries cannot form a folder (every rule of decoding but the
// byte layout), or "".
std::string folder_entries_problem(const folder_manifest& f);

bool is_folder_manifest(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> encode_folder_manifest(const folder_manifest& f);
result<folder_manifest> decode_folder_manifest(std::span<const std::uint8_t> bytes);

// The manifest of a folder's file, given its chunk hashes: the name is
// always folder_file_name.
manifest folder_file_manifest(std::uint64_t size, std::vector<sha256_digest> chunk_hashes);

// The entries `wanted` selects: a path names that file, or every entry under
// that directory. An error names the first path that selects nothing.
result<std::vector<std::size_t>> select_folder_entries(const folder_manifest& f,
                                                       const std::vector<std::string>& wanted);

}  // namespace peerlab::protocol

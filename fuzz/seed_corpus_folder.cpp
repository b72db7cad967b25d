// Seeds for the folder manifest decoder (called by seed_corpus.cpp): valid
// folders, and one near miss for each hostile rule of docs/protocol.md §5.2.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/folder_manifest.hpp"

namespace peerlab::fuzz {

namespace {

using namespace protocol;
namespace fs = std::filesystem;

folder_entry file(std::string path, std::uint64_t size, std::uint8_t seed) {
  folder_entry e{folder_entry_kind::file, std::move(path), size, {}};
  for (std::size_t i = 0; i < e.id.size(); ++i)
    e.id[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return e;
}

folder_entry empty_dir(std::string path) {
  return {folder_entry_kind::empty_directory, std::move(path), 0, {}};
}

}  // namespace

void write_folder_seeds(const fs::path& out) {
  const auto dir = out / "folder";
  fs::create_directories(dir);
  // Encoded as given, unsorted and unchecked: near misses must stay near.
  const auto write = [&](const std::string& name, const std::string& folder,
                         std::vector<folder_entry> entries) {
    const auto bytes = encode_folder_manifest({folder, std::move(entries)});
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  };
  write("empty", "nothing", {});
  write("lecture", "lecture-3",
        {file("code/main.cpp", 2000, 1), file("code/util/hash.cpp", 900, 2), empty_dir("notes"),
         file("slides.pdf", 3'000'000, 3)});
  write("identical-files", "album", {file("a/logo.png", 5000, 9), file("b/c/logo.png", 5000, 9)});
  write("utf8", "Übung", {file("Ordner/雪.txt", 12, 4), file("Ordner/ü.txt", 1, 5)});
  write("dotdot", "evil", {file("../escape", 1, 1)});
  write("inner-dotdot", "evil", {file("a/../../escape", 1, 1)});
  write("absolute", "evil", {file("/etc/passwd", 1, 1)});
  write("empty-segment", "evil", {file("a//b", 1, 1)});
  write("dot-segment", "evil", {file("a/./b", 1, 1)});
  write("nul", "evil", {file(std::string("a\0b", 3), 1, 1)});
  write("backslash", "evil", {file("a\\..\\b", 1, 1)});
  write("case-twins", "evil", {file("README", 1, 1), file("readme", 1, 2)});
  write("file-and-dir", "evil", {file("a", 1, 1), file("a/b", 1, 2)});
  write("unsorted", "evil", {file("b", 1, 1), file("a", 1, 2)});
  write("duplicate", "evil", {file("a", 1, 1), file("a", 1, 1)});
  write("empty-dir-with-contents", "evil", {empty_dir("a"), file("a/b", 1, 1)});
  write("bad-utf8", "evil", {file("\xc0\xaf", 1, 1)});
  write("too-big", "evil", {file("big", max_file_bytes + 1, 1)});
  std::string deep = "d";
  for (std::size_t i = 0; i < max_folder_depth; ++i)
    deep += "/d";
  write("too-deep", "evil", {file(deep, 1, 1)});
}

}  // namespace peerlab::fuzz

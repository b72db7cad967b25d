// Folder manifest decoder: an encoded folder manifest in, as it arrives in
// manifest_data from any peer. Checks: a folder that decodes has only paths
// that stay inside the target directory, no two entries that one file system
// would merge, limits kept, exactly one encoding (so its content id is well
// defined), and --only selections that stay within its entries.

#include <algorithm>
#include <cstdint>
#include <set>
#include <span>
#include <string>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/folder_manifest.hpp"

namespace peerlab::fuzz {

int fuzz_folder(const std::uint8_t* data, std::size_t size) {
  using namespace protocol;
  const std::span<const std::uint8_t> bytes(data, size);
  const auto decoded = decode_folder_manifest(bytes);
  if (!decoded) {
    FUZZ_CHECK(!decoded.error_message().empty());
    return 0;
  }
  const folder_manifest& f = *decoded;
  FUZZ_CHECK(is_safe_file_name(f.name));
  FUZZ_CHECK(f.entries.size() <= max_folder_entries);
  FUZZ_CHECK(f.total_bytes() <= max_folder_bytes);
  std::set<std::string> lowered;
  for (std::size_t i = 0; i < f.entries.size(); ++i) {
    const auto& e = f.entries[i];
    FUZZ_CHECK(folder_path_problem(e.path).empty());
    FUZZ_CHECK(e.path.front() != '/' && e.path.back() != '/');
    FUZZ_CHECK(e.path.find("//") == std::string::npos);
    FUZZ_CHECK(e.path != ".." && !e.path.starts_with("../") && !e.path.ends_with("/..") &&
               e.path.find("/../") == std::string::npos);
    FUZZ_CHECK(e.path.find('\0') == std::string::npos);
    FUZZ_CHECK(e.size <= max_file_bytes);
    if (i > 0) FUZZ_CHECK(f.entries[i - 1].path < e.path);
    std::string low = e.path;
    std::transform(low.begin(), low.end(), low.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    FUZZ_CHECK(lowered.insert(low).second);
  }
  // One encoding per folder: what came in is what we would send.
  const auto encoded = encode_folder_manifest(f);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), bytes.begin(), bytes.end()));
  const auto again = decode_folder_manifest(encoded);
  FUZZ_CHECK(again.ok() && *again == f);
  FUZZ_CHECK(!decode_folder_manifest(bytes.first(bytes.size() - 1)).ok());
  // Selecting every entry by its own path gives back every entry.
  if (!f.entries.empty()) {
    const auto one = select_folder_entries(f, {f.entries.front().path});
    FUZZ_CHECK(one.ok() && !one->empty() && one->front() == 0);
  }
  const auto all = select_folder_entries(f, {});
  FUZZ_CHECK(all.ok() && all->size() == f.entries.size());
  return 0;
}

}  // namespace peerlab::fuzz

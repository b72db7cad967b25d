#include "peer/folder_paths.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace peerlab::peer {

result<std::monostate> make_folder_directories(const fs::path& root, std::string_view relative,
                                               bool last_is_file) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root)) {
    return error{"cannot create the folder " + root.string() + ": " +
                 (ec ? ec.message() : "it is not a directory")};
  }
  fs::path at = root;
  std::size_t start = 0;
  for (;;) {
    const auto slash = relative.find('/', start);
    if (slash == std::string_view::npos && last_is_file) break;
    const auto segment = relative.substr(start, slash - start);
    at /= std::string(segment);
    if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST)
      return error{"cannot create " + at.string() + ": " + std::strerror(errno)};
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return error{at.string() + " is not a directory (a link?); refusing to write through it"};
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::monostate{};
}

std::size_t remove_stray_temporaries(const fs::path& root) {
  constexpr std::string_view marker = ".peerlab-partial.";
  std::size_t removed = 0;
  std::error_code ec;
  fs::recursive_directory_iterator walk(root, fs::directory_options::none, ec);
  for (; !ec && walk != fs::recursive_directory_iterator(); walk.increment(ec)) {
    const auto name = walk->path().filename().string();
    const auto at = name.rfind(marker);
    if (at == std::string::npos || name.size() != at + marker.size() + 6) continue;
    if (!walk->is_symlink(ec) && walk->is_regular_file(ec) && fs::remove(walk->path(), ec))
      ++removed;
  }
  return removed;
}

result<file_stamp> copy_into_place(const fs::path& from, const fs::path& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return error{"cannot read " + from.string() + ": " + std::strerror(errno)};
  const file_handle source(in);
  struct stat st {};
  if (::fstat(in, &st) != 0) return error{"cannot read " + from.string()};
  std::string temporary = to.string() + ".peerlab-partial.XXXXXX";
  const int out = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (out < 0) return error{"cannot create " + to.string() + ": " + std::strerror(errno)};
  const file_handle target(out);
  ::fchmod(out, 0644);
  off_t offset = 0;
  while (offset < st.st_size) {
    const auto n = ::sendfile(out, in, &offset, static_cast<std::size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "the source shrank";
      ::unlink(temporary.c_str());
      return error{"cannot copy " + from.string() + " to " + to.string() + ": " + why};
    }
  }
  if (::fsync(out) != 0 || ::rename(temporary.c_str(), to.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temporary.c_str());
    return error{"cannot place " + to.string() + ": " + why};
  }
  return store::stamp_of(to);
}

}  // namespace peerlab::peer

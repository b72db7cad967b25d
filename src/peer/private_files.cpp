#include "peer/private_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace peerlab::peer {

namespace fs = std::filesystem;
using protocol::error;

namespace {
std::string errno_text() {
  return std::strerror(errno);
}
}  // namespace

// Creates `path` as a new, empty file of `size` bytes, never through a link
// planted there: the file is made under a fresh name of its own (O_EXCL,
// which also refuses to follow a symbolic link) and renamed over `path`.
// rename(2) replaces a link itself, so whatever it pointed to is untouched.
protocol::result<int> create_private(const fs::path& path, std::uint64_t size) {
  std::string temporary = path.string() + ".XXXXXX";
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) return error{"cannot create " + path.string() + ": " + errno_text()};
  ::fchmod(fd, 0644);
  const auto fail = [&](const std::string& what) {
    const std::string why = what + errno_text();
    ::close(fd);
    ::unlink(temporary.c_str());
    return error{why};
  };
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0)
    return fail("cannot size " + path.string() + ": ");
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    return fail("cannot create " + path.string() + ": ");
  return fd;
}

// Opens a file that an earlier run created, refusing a symbolic link (or
// anything else that is not a regular file) found in its place.
protocol::result<int> open_existing(const fs::path& path, bool writable) {
  const int fd =
      ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0 && errno == ELOOP)
    return error{path.string() + " is a symbolic link; refusing to follow it"};
  if (fd < 0) return error{"cannot open " + path.string() + ": " + errno_text()};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return error{path.string() + " is not a regular file"};
  }
  // O_NONBLOCK only kept a FIFO planted there from hanging the open.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

protocol::result<std::monostate> make_directories_under(const fs::path& root,
                                                        const fs::path& relative) {
  // lstat, not stat: a link is refused even if it points at a directory.
  const auto make = [](const fs::path& dir) -> protocol::result<std::monostate> {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return std::monostate{};
      if (S_ISLNK(st.st_mode))
        return error{dir.string() + " is a symbolic link; refusing to follow it"};
      return error{dir.string() + " is in the way of a directory"};
    }
    if (errno != ENOENT) return error{"cannot reach " + dir.string() + ": " + errno_text()};
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return error{"cannot create " + dir.string() + ": " + errno_text()};
    return std::monostate{};
  };
  if (auto made = make(root); !made) return made;
  fs::path at = root;
  for (const auto& segment : relative) {
    // The parser refused these already; checked again where paths are joined.
    const auto s = segment.string();
    if (s.empty() || s == "." || s == ".." || segment.is_absolute())
      return error{"unsafe path in the torrent: " + relative.string()};
    at /= segment;
    if (auto made = make(at); !made) return made;
  }
  return std::monostate{};
}

}  // namespace peerlab::peer

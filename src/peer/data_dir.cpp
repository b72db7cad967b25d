#include "peer/data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace peerlab::peer {

namespace fs = std::filesystem;

std::filesystem::path resolve_data_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("PEERLAB_DIR"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".peerlab";
}

result<data_dir_lock> data_dir_lock::acquire(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error{"cannot create data directory " + dir.string() + ": " + ec.message()};
  const auto path = dir / "lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return error{"cannot open " + path.string() + ": " + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return error{"another peerlab node is already running with data directory " + dir.string()};
  }
  return data_dir_lock(fd);
}

data_dir_lock::data_dir_lock(data_dir_lock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

// The kernel's generator (getrandom(2)), not OpenSSL's: initialising
// OpenSSL's DRBG and providers at start-up kept 3 MiB of libcrypto resident
// in every idle node.
std::string random_hex(std::size_t bytes) {
  std::vector<std::uint8_t> buffer(bytes);
  std::size_t got = 0;
  for (int tries = 0; got < buffer.size() && tries < 16; ++tries) {
    const auto n = ::getrandom(buffer.data() + got, buffer.size() - got, 0);
    if (n > 0)
      got += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EINTR)
      break;
  }
  if (got < buffer.size()) throw std::runtime_error("the system random number generator failed");
  return protocol::to_hex(buffer);
}

result<std::monostate> write_file_atomically(const fs::path& path, const std::string& contents,
                                             unsigned mode) {
  const auto temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return error{"cannot write " + temporary + ": " + std::strerror(errno)};
  ::fchmod(fd, mode);  // the file may have existed with other permissions
  const bool written =
      ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced || ::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return error{"cannot write " + path.string() + ": " + std::strerror(errno)};
  }
  return std::monostate{};
}

result<protocol::node_id> load_or_create_node_id(const fs::path& dir) {
  const auto path = dir / "node_id";
  if (std::ifstream in(path); in) {
    std::string hex;
    in >> hex;
    auto id = protocol::node_id_from_hex(hex);
    if (!id) return error{path.string() + " is corrupt: " + id.error_message()};
    return id;
  }
  const auto hex = random_hex(protocol::node_id{}.size());
  if (auto written = write_file_atomically(path, hex + "\n", 0644); !written) {
    return error{written.error_message()};
  }
  return protocol::node_id_from_hex(hex);
}

fs::path node_info_path(const fs::path& dir) {
  return dir / "node.json";
}

result<std::monostate> write_node_info(const fs::path& dir, const node_info& info) {
  const nlohmann::json j = {{"id", info.id},     {"name", info.name},     {"listen", info.listen},
                            {"http", info.http}, {"api", info.api_url()}, {"token", info.token},
                            {"pid", info.pid}};
  // 0600: the token grants control of the node, so only its owner may read it.
  return write_file_atomically(node_info_path(dir), j.dump(2) + "\n", 0600);
}

result<node_info> read_node_info(const fs::path& dir) {
  const auto path = node_info_path(dir);
  std::ifstream in(path);
  if (!in) return error{"no peerlab node is running with data directory " + dir.string()};
  try {
    const auto j = nlohmann::json::parse(in);
    node_info info;
    info.id = j.at("id").get<std::string>();
    info.name = j.at("name").get<std::string>();
    info.listen = j.at("listen").get<std::string>();
    info.http = j.at("http").get<std::string>();
    info.token = j.at("token").get<std::string>();
    info.pid = j.at("pid").get<long>();
    return info;
  } catch (const std::exception&) {
    return error{path.string() + " is unreadable; is the node still starting?"};
  }
}

}  // namespace peerlab::peer

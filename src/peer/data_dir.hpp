#pragma once
// The node's data directory: its persistent identity, a lock so that only one
// node uses it at a time, and node.json, which tells the CLI how to reach the
// running node (its HTTP API and a token readable only by the owner).

#include <filesystem>
#include <optional>
#include <string>

#include "protocol/messages.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

using protocol::error;
using protocol::result;

// --dir if given, else $PEERLAB_DIR, else ~/.peerlab.
std::filesystem::path resolve_data_dir(const std::string& flag);

// Holds an exclusive lock on DIR/lock for the lifetime of the node.
class data_dir_lock {
 public:
  static result<data_dir_lock> acquire(const std::filesystem::path& dir);
  data_dir_lock(data_dir_lock&& other) noexcept;
  data_dir_lock& operator=(data_dir_lock&&) = delete;
  ~data_dir_lock();

 private:
  explicit data_dir_lock(int fd) : fd_(fd) {}
  int fd_;
};

// The node id in DIR/node_id, created at random on first use.
result<protocol::node_id> load_or_create_node_id(const std::filesystem::path& dir);

std::string random_hex(std::size_t bytes);

// What a running node publishes in DIR/node.json.
struct node_info {
  std::string id;
  std::string name;
  std::string listen;  // IP:PORT of the passive peer socket
  std::string http;    // IP:PORT of the HTTP server
  std::string token;   // bearer token for POST /api/...
  long pid = 0;

  std::string api_url() const { return "http://" + http; }
};

std::filesystem::path node_info_path(const std::filesystem::path& dir);
result<std::monostate> write_node_info(const std::filesystem::path& dir, const node_info& info);
result<node_info> read_node_info(const std::filesystem::path& dir);

// Writes a file atomically (temporary file, then rename) with the given mode.
result<std::monostate> write_file_atomically(const std::filesystem::path& path,
                                             const std::string& contents, unsigned mode);

}  // namespace peerlab::peer

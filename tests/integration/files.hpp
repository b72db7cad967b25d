#pragma once
// Test files: random contents written to disk, read back, and shared by a node.

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "harness.hpp"

namespace peerlab::testing {

namespace fs = std::filesystem;

inline std::vector<char> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<char> data(n);
  for (auto& b : data)
    b = static_cast<char>(rng());
  return data;
}

inline fs::path write_file(const fs::path& dir, const std::string& name,
                           const std::vector<char>& data) {
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
  return path;
}

inline std::vector<char> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline protocol::content_id share(harness& h, peer::node& n, const fs::path& file) {
  auto done = asio::co_spawn(
      h.io(),
      [&]() -> asio::awaitable<std::optional<protocol::result<protocol::content_id>>> {
        co_return co_await n.transfers().share(file);
      },
      asio::use_future);
  auto id = *done.get();
  if (!id) throw std::runtime_error(id.error_message());
  return *id;
}

}  // namespace peerlab::testing

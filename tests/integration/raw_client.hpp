#pragma once
// A blocking TCP client for tests that speak to a node badly on purpose.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/endpoint.hpp"
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"

namespace peerlab::testing {

class raw_client {
 public:
  explicit raw_client(const protocol::endpoint& to) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(to.port);
    std::copy_n(to.ip.begin(), 4, reinterpret_cast<std::uint8_t*>(&address.sin_addr));
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("raw_client: connect failed");
    }
  }
  ~raw_client() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  // False if the peer already closed (the bytes could not all be written).
  bool send(std::span<const std::uint8_t> bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  bool send(const protocol::message& m) {
    return send(protocol::encode_frame(protocol::encode(m)));
  }

  // Everything received until the peer closes or the deadline passes.
  std::string read_all(std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    std::string received;
    char buffer[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return received;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return received;
      received.append(buffer, static_cast<std::size_t>(n));
    }
  }

  // Reads and discards until the node closes the connection (true) or the
  // deadline passes (false).
  bool closed_within(std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    std::uint8_t sink[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const auto n = ::recv(fd_, sink, sizeof sink, 0);
      if (n <= 0) return true;  // EOF or reset: closed by the node
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace peerlab::testing

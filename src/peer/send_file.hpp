#pragma once
// sendfile(2) on an asio socket: the kernel moves page-cache pages into the
// socket, with no copy through our memory. Used for chunks sent to peers and
// for files served over HTTP.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <system_error>

namespace peerlab::peer {

struct send_file_result {
  std::uint64_t sent = 0;
  std::error_code error;  // set if the socket failed
};

// Sends bytes [offset, offset + length) of the open file `fd`. The socket is
// switched to non-blocking mode; whenever its send buffer is full this waits
// until it drains, calling `before_wait` first (to arm a write deadline).
// Fewer bytes than asked and no error: the file ended early (it shrank).
asio::awaitable<send_file_result> send_file(asio::ip::tcp::socket& socket, int fd,
                                            std::uint64_t offset, std::uint64_t length,
                                            const std::function<void()>& before_wait);

}  // namespace peerlab::peer

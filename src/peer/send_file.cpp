#include "peer/send_file.hpp"

#include <sys/sendfile.h>

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>

namespace peerlab::peer {

asio::awaitable<send_file_result> send_file(asio::ip::tcp::socket& socket, int fd,
                                            std::uint64_t offset, std::uint64_t length,
                                            const std::function<void()>& before_wait) {
  send_file_result r;
  socket.native_non_blocking(true, r.error);
  if (r.error) co_return r;
  auto at = static_cast<off_t>(offset);
  while (r.sent < length) {
    const auto n = ::sendfile(socket.native_handle(), fd, &at, length - r.sent);
    if (n > 0) {
      r.sent += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) break;  // the file ends before offset + length
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      r.error = std::error_code(errno, std::system_category());
      break;
    }
    if (before_wait) before_wait();
    co_await socket.async_wait(asio::ip::tcp::socket::wait_write,
                               asio::redirect_error(asio::use_awaitable, r.error));
    if (r.error) break;
  }
  co_return r;
}

}  // namespace peerlab::peer

// A connection's raw side, for BitTorrent (bt_session): a peek at the first
// byte to tell the protocols apart, then bytes in and out without peerlab's
// framing. Part of class connection (connection.hpp).

#include <sys/socket.h>

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>

#include "peer/connection.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;

asio::awaitable<int> connection::peek_first_byte() {
  while (open_) {
    std::error_code ec;
    co_await socket_.async_wait(asio::ip::tcp::socket::wait_read,
                                redirect_error(use_awaitable, ec));
    if (ec || !open_) break;
    std::uint8_t byte = 0;
    const auto n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK);
    if (n == 1) co_return byte;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    close(n == 0 ? "closed by peer" : "cannot read");
  }
  co_return -1;
}

asio::awaitable<std::size_t> connection::read_raw(std::span<std::uint8_t> into) {
  std::error_code ec;
  const auto n = co_await socket_.async_read_some(asio::buffer(into.data(), into.size()),
                                                  redirect_error(use_awaitable, ec));
  if (ec || !open_) {
    close(ec == asio::error::eof ? "closed by peer" : ec ? ec.message() : "closed");
    co_return 0;
  }
  bytes_received_ += n;
  if (down_limiter_) co_await down_limiter_->acquire(n);
  if (raw_established_) read_deadline_ = clock::now() + settings_.idle_timeout;
  co_return n;
}

void connection::mark_raw_established(clock::duration idle, std::vector<std::uint8_t> keepalive) {
  raw_established_ = true;
  raw_keepalive_ = std::move(keepalive);
  settings_.idle_timeout = idle;
  read_deadline_ = clock::now() + idle;
  write_signal_.cancel();  // the writer now waits with the keepalive interval
}

void connection::send_raw(std::vector<std::uint8_t> bytes) {
  if (open_) enqueue({std::move(bytes), nullptr, 0, 0});
}

void connection::send_raw_file(std::vector<std::uint8_t> head,
                               std::shared_ptr<const file_handle> file, std::uint64_t offset,
                               std::uint64_t length) {
  if (open_) enqueue({std::move(head), std::move(file), offset, length});
}

}  // namespace peerlab::peer

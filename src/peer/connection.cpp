#include "peer/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <functional>
#include <limits>

#include "peer/asio_endpoint.hpp"
#include "peer/log.hpp"
#include "peer/send_file.hpp"

namespace peerlab::peer {

using asio::redirect_error;
using asio::use_awaitable;

namespace {

// Where small reads land before the decoder copies them: one per thread (the
// network has one), not one per connection.
thread_local std::array<std::uint8_t, 64 * 1024> scratch;

std::uint64_t last_serial = 0;  // of connections: only the network thread makes them

// The buffers after skipping the first `offset` bytes.
std::vector<asio::const_buffer> suffix(const std::vector<asio::const_buffer>& buffers,
                                       std::size_t offset) {
  std::vector<asio::const_buffer> rest;
  for (const auto& b : buffers) {
    if (offset >= b.size()) {
      offset -= b.size();
      continue;
    }
    rest.push_back(b + offset);
    offset = 0;
  }
  return rest;
}
}  // namespace

const char* to_string(direction d) {
  return d == direction::inbound ? "inbound" : "outbound";
}

connection::connection(asio::ip::tcp::socket socket, direction dir,
                       const connection_settings& settings)
    : socket_(std::move(socket)),
      serial_(++last_serial),
      direction_(dir),
      settings_(settings),
      decoder_(protocol::max_hello_frame_bytes),  // raised once the hello is in
      write_signal_(socket_.get_executor()),
      watchdog_timer_(socket_.get_executor()),
      drained_signal_(socket_.get_executor()),
      connected_at_(clock::now()) {
  std::error_code ec;
  local_ = from_asio(socket_.local_endpoint(ec));
  remote_ = from_asio(socket_.remote_endpoint(ec));
  advertised_ = remote_;
  read_deadline_ = connected_at_ + settings_.handshake_timeout;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  set_notsent_lowat(settings_.notsent_lowat_bytes);
  // Reads below happen only once the socket is readable, but a readiness can
  // be spurious: then read_some must say "would block", never block.
  socket_.non_blocking(true, ec);
}

std::string connection::four_tuple() const {
  // Arrow points from the side that dialed to the side that accepted.
  const char* arrow = direction_ == direction::outbound ? " -> " : " <- ";
  return protocol::to_string(local_) + arrow + protocol::to_string(remote_);
}

void connection::start() {
  auto self = shared_from_this();
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->write_loop(); }, asio::detached);
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->watchdog(); }, asio::detached);
}

void connection::mark_established(const protocol::hello& peer_hello,
                                  const protocol::endpoint& advertised) {
  peer_hello_ = peer_hello;
  advertised_ = advertised;
  read_deadline_ = clock::now() + settings_.idle_timeout;
  write_signal_.cancel();  // the writer now waits with the keepalive interval
}

void connection::set_input_budget(memory_budget* budget) {
  input_share_.emplace(budget, [this] {
    close("gave way to others in the node's memory budget: a large frame unfinished for too long");
  });
}

bool connection::hold_input() {
  if (!input_share_ || input_share_->resize(decoder_.held_bytes(), clock::now())) return true;
  close("over the node's memory budget for incoming data (" +
        std::to_string(decoder_.held_bytes()) + " bytes buffered)");
  return false;
}

asio::awaitable<protocol::result<protocol::message>> connection::receive() {
  if (peer_hello_) decoder_.set_max_payload(protocol::max_frame_bytes);
  while (open_) {
    auto frame = decoder_.next();
    if (!frame) {
      close("bad frame: " + frame.error_message());
      break;
    }
    if (*frame) {
      const std::size_t frame_bytes = (*frame)->size() + protocol::frame_header_bytes;
      hold_input();  // a large frame handed out gives its share back
      auto m = protocol::decode(std::move(**frame));
      if (!m) {
        close("bad message: " + m.error_message());
        break;
      }
      if (trace_) trace_->record(*this, false, *m, frame_bytes);
      co_return m;
    }
    // Inside a large frame (a chunk) the socket reads straight into the
    // frame's own buffer. Otherwise we wait until it is readable and read into
    // the network thread's scratch buffer, which the decoder copies from: an
    // idle connection holds no read buffer of its own.
    const auto direct = decoder_.direct_space();
    // Whatever the decoder holds (the window just grown included) is charged
    // to the node's budget before a byte more is read into it.
    if (!hold_input()) break;
    std::error_code ec;
    std::size_t n = 0;
    if (!direct.empty()) {
      n = co_await socket_.async_read_some(asio::buffer(direct.data(), direct.size()),
                                           redirect_error(use_awaitable, ec));
    } else {
      co_await socket_.async_wait(asio::ip::tcp::socket::wait_read,
                                  redirect_error(use_awaitable, ec));
      if (!ec) n = socket_.read_some(asio::buffer(scratch), ec);
      if (ec == asio::error::would_block) continue;
    }
    if (ec) {
      close(ec == asio::error::eof ? "closed by peer" : ec.message());
      break;
    }
    bytes_received_ += n;
    if (direct.empty()) {
      decoder_.feed({scratch.data(), n});
    } else {
      decoder_.commit_direct(n);
    }
    // Not reading for a while is how a receiver slows a TCP sender down.
    if (down_limiter_) co_await down_limiter_->acquire(n);
    if (peer_hello_) read_deadline_ = clock::now() + settings_.idle_timeout;
  }
  decoder_ = protocol::frame_decoder(0);  // closed: let go of whatever it buffered
  hold_input();
  co_return protocol::error{"connection closed"};
}

void connection::send(const protocol::message& m) {
  if (!open_) return;
  auto frame = protocol::encode_frame(protocol::encode(m));
  if (trace_) trace_->record(*this, true, m, frame.size());
  enqueue({std::move(frame), nullptr, 0, 0});
}

void connection::send_chunk(const protocol::chunk_head& head,
                            std::shared_ptr<const file_handle> file, std::uint64_t offset) {
  if (!open_) return;
  pace_notsent_lowat();
  auto frame_head = protocol::encode_frame_head(head);
  if (trace_) trace_->record(*this, true, head, frame_head.size() + head.length);
  enqueue({std::move(frame_head), std::move(file), offset, head.length});
}

void connection::enqueue(outgoing item) {
  queued_bytes_ += item.bytes.size() + item.file_length;
  write_queue_.push_back(std::move(item));
  if (queued_bytes_ > settings_.max_queued_bytes) {
    close("peer is not reading (" + std::to_string(queued_bytes_) + " bytes queued)");
    return;
  }
  write_signal_.cancel();
}

asio::awaitable<void> connection::write_loop() {
  auto self = shared_from_this();  // keeps the connection alive while writing
  while (open_) {
    if (write_queue_.empty()) {
      // Sleep until send() signals or it is time for a keepalive.
      write_signal_.expires_after(peer_hello_ || raw_established_ ? settings_.keepalive_interval
                                                                  : settings_.handshake_timeout);
      std::error_code ec;
      co_await write_signal_.async_wait(redirect_error(use_awaitable, ec));
      if (!ec && open_ && write_queue_.empty() && peer_hello_) send(protocol::keepalive{});
      if (!ec && open_ && write_queue_.empty() && raw_established_) send_raw(raw_keepalive_);
      continue;
    }
    // Gather everything queued into one write (fewer syscalls for small
    // frames), up to and including the first frame that goes on from a file.
    std::vector<asio::const_buffer> buffers;
    const outgoing* from_file = nullptr;
    for (const auto& item : write_queue_) {
      buffers.push_back(asio::buffer(item.bytes));
      if (item.file) {
        from_file = &item;
        break;
      }
    }
    const std::size_t frames = buffers.size();
    std::error_code ec;
    const std::size_t sent = co_await write_batch(buffers, from_file, ec);
    bytes_sent_ += sent;
    queued_bytes_ -= sent;
    if (!open_) break;
    if (ec) {
      close(ec.message());
      break;
    }
    write_queue_.erase(write_queue_.begin(),
                       write_queue_.begin() + static_cast<std::ptrdiff_t>(frames));
    drained_signal_.cancel();
  }
}

asio::awaitable<std::size_t> connection::write_batch(const std::vector<asio::const_buffer>& buffers,
                                                     const outgoing* file, std::error_code& ec) {
  // Under an upload limit, pay for and write the batch in slices of a
  // quarter second: long enough that connections sharing the limit take
  // turns chunk by chunk (each chunk arrives whole sooner, and can be passed
  // on), short enough that no peer waits long in silence.
  const bool limited = up_limiter_ && up_limiter_->rate() > 0;
  const std::size_t slice = limited ? std::max<std::size_t>(64 * 1024, up_limiter_->rate() / 4)
                                    : std::numeric_limits<std::size_t>::max();
  const std::size_t total = asio::buffer_size(buffers);
  std::size_t sent = 0;
  while (sent < total && open_ && !ec) {
    const std::size_t n = std::min(slice, total - sent);
    if (up_limiter_) co_await up_limiter_->acquire(n);
    if (!open_) co_return sent;
    start_writing();
    sent += co_await asio::async_write(socket_, suffix(buffers, sent), asio::transfer_exactly(n),
                                       redirect_error(use_awaitable, ec));
    writing_ = false;
  }
  if (!file || ec || !open_) co_return sent;
  // The write deadline counts from the last progress, not from the start.
  const std::function<void()> before_wait = [this] {
    write_deadline_ = clock::now() + settings_.write_timeout;
  };
  std::uint64_t file_sent = 0;
  while (file_sent < file->file_length && open_ && !ec) {
    const auto n = std::min<std::uint64_t>(slice, file->file_length - file_sent);
    if (up_limiter_) co_await up_limiter_->acquire(static_cast<std::size_t>(n));
    if (!open_) break;
    start_writing();
    const auto r = co_await send_file(socket_, file->file->fd(), file->file_offset + file_sent, n,
                                      before_wait);
    writing_ = false;
    file_sent += r.sent;
    ec = r.error;
    if (!ec && r.sent < n) {
      // The frame promised more bytes than the file still has: the stream
      // can only end here, or the peer would read the next frame misaligned.
      close("a shared file shrank while being sent");
    }
  }
  co_return sent + static_cast<std::size_t>(file_sent);
}

asio::awaitable<void> connection::wait_writable(std::size_t max_queued) {
  while (open_ && queued_bytes_ > max_queued) {
    drained_signal_.expires_at(clock::time_point::max());
    std::error_code ec;
    co_await drained_signal_.async_wait(redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<bool> connection::wait_writable(std::size_t max_queued, clock::duration patience) {
  while (open_ && queued_bytes_ > max_queued) {
    const auto now = clock::now();
    // Progress is a byte sent: a write moves its deadline with each one.
    // (Waiting for the upload limiter's tokens is not writing, not a stall.)
    const auto last_progress = writing_ ? write_deadline_ - settings_.write_timeout : now;
    if (now - last_progress >= patience) co_return false;
    drained_signal_.expires_at(last_progress + patience);
    std::error_code ec;
    co_await drained_signal_.async_wait(redirect_error(use_awaitable, ec));
  }
  co_return true;
}

bool connection::can_send_now() {
  if (!open_ || !write_queue_.empty()) return false;
  // What poll() says, less one of its rules: it calls a socket writable only
  // once a third of its buffer is free. On a long path that loses packets,
  // segments waiting for a resend keep the buffer fuller than that for whole
  // round trips, while the kernel would still take (and send) more: waiting
  // for poll() left the link idle.
  if (const auto b = read_send_buffer(socket_.native_handle()); b && notsent_lowat_ > 0)
    return b->queued < b->capacity && b->unsent < notsent_lowat_ / 2;
  pollfd p{socket_.native_handle(), POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

asio::awaitable<void> connection::wait_sendable() {
  if (!open_) co_return;
  if (!write_queue_.empty()) co_return co_await wait_writable(0);
  std::error_code ec;
  co_await socket_.async_wait(asio::ip::tcp::socket::wait_write, redirect_error(use_awaitable, ec));
}

tcp_reading connection::path() {
  return read_tcp_info(socket_.native_handle()).value_or(tcp_reading{});
}

void connection::pace_notsent_lowat() {
  const auto info = read_tcp_info(socket_.native_handle());
  if (!info) return;
  // On a long path, two round trips' worth: a new chunk is picked once less
  // than half the mark is unsent (as poll() judges), so a round trip's worth
  // is queued when lost segments stop the kernel from waking any writer
  // (its buffer stays over two thirds full until they are resent).
  const auto seconds = std::chrono::duration<double>(
                           std::max<duration>(settings_.notsent_lowat_time, 2 * info->round_trip))
                           .count();
  const auto wanted =
      std::clamp(static_cast<std::size_t>(static_cast<double>(info->delivery_rate) * seconds),
                 settings_.notsent_lowat_bytes,
                 std::max(settings_.notsent_lowat_bytes, settings_.notsent_lowat_max_bytes));
  // Rates are noisy: only a change by a quarter or more is worth a syscall.
  if (wanted > notsent_lowat_ + notsent_lowat_ / 4 || wanted < notsent_lowat_ - notsent_lowat_ / 4)
    set_notsent_lowat(wanted);
}

void connection::set_notsent_lowat(std::size_t bytes) {
  const int lowat = static_cast<int>(bytes);
  if (::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat) ==
      0)
    notsent_lowat_ = bytes;
}

void connection::start_writing() {
  writing_ = true;
  write_deadline_ = clock::now() + settings_.write_timeout;
  // The watchdog may sleep past this deadline: wake it to wait for it.
  if (watchdog_timer_.expiry() > write_deadline_) watchdog_timer_.cancel();
}

asio::awaitable<void> connection::watchdog() {
  auto self = shared_from_this();
  while (open_) {
    // Sleep until the next deadline: one wake-up per idle timeout or so, not
    // one a second (50 nodes in a full mesh would wake 2 500 times a second).
    watchdog_timer_.expires_at(writing_ ? std::min(read_deadline_, write_deadline_)
                                        : read_deadline_);
    std::error_code ec;
    co_await watchdog_timer_.async_wait(redirect_error(use_awaitable, ec));
    if (!open_) break;
    const auto now = clock::now();
    if (read_deadline_ <= now) {
      close(peer_hello_ || raw_established_ ? "idle timeout" : "handshake timeout");
    } else if (writing_ && write_deadline_ <= now) {
      close("write timeout");
    }
  }
}

void connection::close(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  log_line(log_level::info) << "closed " << four_tuple() << ": " << reason;
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  write_signal_.cancel();
  watchdog_timer_.cancel();
  drained_signal_.cancel();
  // The queue is left to the writer: an aborted write may still refer to it.
}

}  // namespace peerlab::peer

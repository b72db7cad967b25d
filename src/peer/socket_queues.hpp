#pragma once
// How many bytes sit in a socket's kernel buffers right now (Linux):
// SIOCOUTQ, sent by us but not yet acknowledged by the other end, and
// SIOCINQ, received but not yet read by us. A rate-limited or slow reader
// shows up here as a send queue filling on the other side.

#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace peerlab::peer {

struct socket_queues {
  std::int64_t send = -1;  // -1: unknown (socket closed)
  std::int64_t receive = -1;
};

inline socket_queues queues_of(int fd) {
  socket_queues q;
  int bytes = 0;
  if (::ioctl(fd, SIOCOUTQ, &bytes) == 0) q.send = bytes;
  if (::ioctl(fd, SIOCINQ, &bytes) == 0) q.receive = bytes;
  return q;
}

// How full a TCP socket's send buffer is: what the uploader decides from
// (connection::can_send_now).
struct send_buffer_reading {
  std::size_t unsent = 0;    // bytes not sent even once (what TCP_NOTSENT_LOWAT limits)
  std::size_t queued = 0;    // memory in use: unsent and not yet acknowledged
  std::size_t capacity = 0;  // the buffer's size, as the kernel tunes it
};

// nullopt if the socket cannot tell (not TCP, closed, an older kernel).
inline std::optional<send_buffer_reading> read_send_buffer(int fd) {
  int unsent = 0;
  if (::ioctl(fd, SIOCOUTQNSD, &unsent) != 0 || unsent < 0) return std::nullopt;
  std::uint32_t memory[SK_MEMINFO_VARS]{};
  socklen_t length = sizeof memory;
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, memory, &length) != 0 ||
      length < (SK_MEMINFO_WMEM_QUEUED + 1) * sizeof memory[0])
    return std::nullopt;
  return send_buffer_reading{static_cast<std::size_t>(unsent), memory[SK_MEMINFO_WMEM_QUEUED],
                             memory[SK_MEMINFO_SNDBUF]};
}

}  // namespace peerlab::peer

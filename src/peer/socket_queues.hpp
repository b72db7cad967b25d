#pragma once
// How many bytes sit in a socket's kernel buffers right now (Linux):
// SIOCOUTQ, sent by us but not yet acknowledged by the other end, and
// SIOCINQ, received but not yet read by us. A rate-limited or slow reader
// shows up here as a send queue filling on the other side.

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <cstdint>

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

}  // namespace peerlab::peer

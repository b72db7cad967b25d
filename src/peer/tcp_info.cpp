#include "peer/tcp_info.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace peerlab::peer {

std::optional<tcp_reading> read_tcp_info(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  tcp_reading r;
  r.round_trip = std::chrono::microseconds(info.tcpi_rtt);
  r.retransmits = info.tcpi_total_retrans;
  // Older kernels fill a shorter structure: no delivery rate then.
  if (length >= offsetof(tcp_info, tcpi_delivery_rate) + sizeof info.tcpi_delivery_rate)
    r.delivery_rate = info.tcpi_delivery_rate;
  return r;
}

}  // namespace peerlab::peer

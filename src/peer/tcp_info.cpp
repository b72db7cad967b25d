#include "peer/tcp_info.hpp"

#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
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

std::optional<send_buffer_reading> read_send_buffer(int fd) {
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

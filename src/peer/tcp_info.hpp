#pragma once
// What the kernel knows of a TCP connection (TCP_INFO): its smoothed round
// trip and the rate at which it recently delivered data. In a file of its
// own because <linux/tcp.h>, which has the delivery rate, cannot be included
// together with glibc's <netinet/tcp.h>.

#include <chrono>
#include <cstdint>
#include <optional>

namespace peerlab::peer {

struct tcp_reading {
  std::chrono::microseconds round_trip{0};
  std::uint64_t delivery_rate = 0;  // bytes per second, 0 when not measured yet
  std::uint32_t retransmits = 0;    // segments sent again, over the connection's life
};

// nullopt if the socket has no such information (not TCP, or closed).
std::optional<tcp_reading> read_tcp_info(int fd);

}  // namespace peerlab::peer

#pragma once
// What the kernel knows of a TCP connection (TCP_INFO): its smoothed round
// trip and the rate at which it recently delivered data; and how full its
// send buffer is. In a file of its own because <linux/tcp.h>, which has the
// delivery rate, cannot be included together with glibc's <netinet/tcp.h>.

#include <chrono>
#include <cstddef>
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

// How full a TCP socket's send buffer is.
struct send_buffer_reading {
  std::size_t unsent = 0;    // bytes not sent even once (what TCP_NOTSENT_LOWAT limits)
  std::size_t queued = 0;    // memory in use: unsent and not yet acknowledged
  std::size_t capacity = 0;  // the buffer's size, as the kernel tunes it
};

std::optional<send_buffer_reading> read_send_buffer(int fd);

}  // namespace peerlab::peer

#pragma once
// The LAN discovery beacon: one UDP datagram a node multicasts on its local
// network to say "a peerlab node listens on TCP port P of the address this
// datagram comes from" (docs/protocol.md §12). Text, like BitTorrent's Local
// Service Discovery (BEP 14), so a student can read it in tcpdump:
//
//   PEERLAB-BEACON 1\r\n
//   Id: 0123456789abcdef0123456789abcdef\r\n
//   Port: 7070\r\n
//   \r\n
//
// Pure: bytes in, a beacon or an error out. The sender's IP is never in the
// datagram; the receiver takes it from the packet's source address.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/messages.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol {

struct beacon {
  node_id id{};
  std::uint16_t port = 0;  // TCP port of the sender's passive socket, never 0

  bool operator==(const beacon&) const = default;
};

// Longer datagrams are refused before anything is read.
inline constexpr std::size_t max_beacon_bytes = 512;
// Header lines after the first (known and unknown ones together).
inline constexpr std::size_t max_beacon_headers = 16;

std::string encode_beacon(const beacon& b);
result<beacon> parse_beacon(std::string_view datagram);

}  // namespace peerlab::protocol

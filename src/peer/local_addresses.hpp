#pragma once
// This machine's own IP addresses, one per interface address (getifaddrs):
// what a node listening on every interface can be reached at, where it
// multicasts its beacon, and which Host headers name it.

#include <string>
#include <vector>

#include "protocol/endpoint.hpp"

namespace peerlab::peer {

struct local_address {
  std::string interface;   // "eth0", "wlan0", "lo"
  protocol::endpoint ip;   // port 0
  bool multicast = false;  // the interface is up and can send multicast
};

// The addresses of interfaces that are up, loopback included; empty if the
// system will not say.
std::vector<local_address> local_addresses();

// This machine's host name in lower case ("" if it has none).
std::string local_host_name();

}  // namespace peerlab::peer

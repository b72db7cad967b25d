#include "peer/local_addresses.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>

namespace peerlab::peer {

std::vector<local_address> local_addresses() {
  std::vector<local_address> out;
  ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return out;
  for (const ifaddrs* i = all; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) continue;
    local_address a;
    a.interface = i->ifa_name ? i->ifa_name : "";
    a.multicast = (i->ifa_flags & IFF_MULTICAST) && !(i->ifa_flags & IFF_LOOPBACK);
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      a.ip.family = protocol::ip_family::v4;
      std::memcpy(a.ip.ip.data(), &in->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      a.ip.family = protocol::ip_family::v6;
      std::memcpy(a.ip.ip.data(), &in6->sin6_addr, 16);
    } else {
      continue;  // AF_PACKET and friends
    }
    out.push_back(std::move(a));
  }
  ::freeifaddrs(all);
  return out;
}

std::string local_host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return {};
  std::string name(host);
  for (auto& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

}  // namespace peerlab::peer

// UDP trackers (BEP 15): fixed binary datagrams, all integers big-endian.
// connect (16 bytes) → connection id; announce (98 bytes) → peers.

#include <algorithm>

#include "protocol/tracker.hpp"

namespace peerlab::protocol::bt {

namespace {

template <std::size_t N>
class writer {
 public:
  std::array<std::uint8_t, N> bytes{};
  void u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes[at_++] = static_cast<std::uint8_t>(v >> shift);
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void u16(std::uint16_t v) {
    bytes[at_++] = static_cast<std::uint8_t>(v >> 8);
    bytes[at_++] = static_cast<std::uint8_t>(v);
  }
  void raw(std::span<const std::uint8_t> b) {
    std::copy(b.begin(), b.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at_));
    at_ += b.size();
  }

 private:
  std::size_t at_ = 0;
};

std::uint32_t get_u32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
}

std::uint32_t udp_event(announce_event e) {
  switch (e) {
    case announce_event::completed:
      return 1;
    case announce_event::started:
      return 2;
    case announce_event::stopped:
      return 3;
    case announce_event::none:
    case announce_event::paused:
      return 0;
  }
  return 0;
}

}  // namespace

std::array<std::uint8_t, 16> encode_udp_connect(std::uint32_t transaction_id) {
  writer<16> w;
  w.u64(udp_protocol_id);
  w.u32(static_cast<std::uint32_t>(udp_action::connect));
  w.u32(transaction_id);
  return w.bytes;
}

std::array<std::uint8_t, 98> encode_udp_announce(const udp_announce_request& r) {
  const auto& a = r.announce;
  writer<98> w;
  w.u64(r.connection_id);
  w.u32(static_cast<std::uint32_t>(udp_action::announce));
  w.u32(r.transaction_id);
  w.raw(a.info_hash);
  w.raw(a.peer);
  w.u64(a.downloaded);
  w.u64(a.left.value_or(0));
  w.u64(a.uploaded);
  w.u32(udp_event(a.event));
  // ip 0: "use the sender's address"; a claimed IPv4 address otherwise.
  std::uint32_t ip = 0;
  if (auto e = parse_endpoint(a.ip + ":1"); e && e->family == ip_family::v4) {
    ip = get_u32(e->ip, 0);
  }
  w.u32(ip);
  // HTTP clients send the key as hex; its first 8 digits make the u32.
  std::uint32_t key = 0;
  for (const char c : a.key.substr(0, 8)) {
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
    if (digit < 0) break;
    key = key * 16 + static_cast<std::uint32_t>(digit);
  }
  w.u32(key);
  w.u32(a.numwant ? *a.numwant : 0xffffffffu);  // -1: the tracker's default
  w.u16(a.port);
  return w.bytes;
}

result<udp_response> parse_udp_response(std::span<const std::uint8_t> datagram,
                                        ip_family peers_family) {
  if (datagram.size() < 8) return error{"udp tracker: datagram shorter than 8 bytes"};
  const std::uint32_t action = get_u32(datagram, 0);
  const std::uint32_t transaction = get_u32(datagram, 4);
  switch (static_cast<udp_action>(action)) {
    case udp_action::connect: {
      if (datagram.size() != 16) return error{"udp tracker: connect answer is not 16 bytes"};
      const std::uint64_t id = (std::uint64_t{get_u32(datagram, 8)} << 32) | get_u32(datagram, 12);
      return udp_response{udp_connect_response{transaction, id}};
    }
    case udp_action::announce: {
      const std::size_t entry = peers_family == ip_family::v4 ? 6 : 18;
      if (datagram.size() < 20 || (datagram.size() - 20) % entry != 0) {
        return error{"udp tracker: announce answer of " + std::to_string(datagram.size()) +
                     " bytes is not 20 + whole peers"};
      }
      udp_announce_response r;
      r.transaction_id = transaction;
      r.interval = get_u32(datagram, 8);
      r.leechers = get_u32(datagram, 12);
      r.seeders = get_u32(datagram, 16);
      for (std::size_t at = 20; at < datagram.size() && r.peers.size() < max_tracker_peers;
           at += entry) {
        endpoint e;
        e.family = peers_family;
        std::copy_n(datagram.begin() + static_cast<std::ptrdiff_t>(at), entry - 2, e.ip.begin());
        e.port =
            static_cast<std::uint16_t>((datagram[at + entry - 2] << 8) | datagram[at + entry - 1]);
        if (e.port != 0) r.peers.push_back(e);
      }
      return udp_response{std::move(r)};
    }
    case udp_action::error: {
      udp_error e;
      e.transaction_id = transaction;
      const auto text = datagram.subspan(8, std::min<std::size_t>(datagram.size() - 8, 1024));
      e.message.assign(text.begin(), text.end());
      return udp_response{std::move(e)};
    }
    case udp_action::scrape:
      break;
  }
  return error{"udp tracker: unexpected action " + std::to_string(action)};
}

}  // namespace peerlab::protocol::bt

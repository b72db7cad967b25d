#pragma once
// Converts between asio's socket addresses and the protocol's plain endpoint,
// and opens passive sockets from them.

#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>

#include "protocol/endpoint.hpp"

namespace peerlab::peer {

inline protocol::endpoint from_asio(const asio::ip::tcp::endpoint& e) {
  protocol::endpoint out;
  out.port = e.port();
  auto address = e.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v4()) {
    out.family = protocol::ip_family::v4;
    const auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.ip.begin());
  } else {
    out.family = protocol::ip_family::v6;
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.ip.begin());
  }
  return out;
}

inline asio::ip::tcp::endpoint to_asio(const protocol::endpoint& e) {
  if (e.family == protocol::ip_family::v4) {
    asio::ip::address_v4::bytes_type bytes;
    std::copy_n(e.ip.begin(), bytes.size(), bytes.begin());
    return {asio::ip::address_v4(bytes), e.port};
  }
  asio::ip::address_v6::bytes_type bytes;
  std::copy_n(e.ip.begin(), bytes.size(), bytes.begin());
  return {asio::ip::address_v6(bytes), e.port};
}

// The passive socket: socket() → bind() → listen(). On failure the acceptor
// is closed again and the error says why (e.g. address in use).
inline std::error_code open_listening(asio::ip::tcp::acceptor& acceptor,
                                      const protocol::endpoint& where) {
  const auto endpoint = to_asio(where);
  std::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  // [::] means every interface, IPv4 ones too (dual stack), whatever the
  // system's default (net.ipv6.bindv6only).
  if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified())
    acceptor.set_option(asio::ip::v6_only(false), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  return ec;
}

}  // namespace peerlab::peer

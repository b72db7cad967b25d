// Endpoints: "IP:PORT" as typed on the command line and as carried in peers
// messages, and the checks that decide whether a learned address is dialed.

#include "protocol/endpoint.hpp"

#include <gtest/gtest.h>

#include <string>

namespace peerlab::protocol {
namespace {

endpoint parsed(const std::string& text) {
  auto r = parse_endpoint(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error_message());
  return r.ok() ? *r : endpoint{};
}

TEST(Endpoint, ParsesIpv4) {
  const auto e = parsed("127.0.0.1:7070");
  EXPECT_EQ(e.family, ip_family::v4);
  EXPECT_EQ(e.ip[0], 127);
  EXPECT_EQ(e.ip[1], 0);
  EXPECT_EQ(e.ip[2], 0);
  EXPECT_EQ(e.ip[3], 1);
  for (std::size_t i = 4; i < 16; ++i)
    EXPECT_EQ(e.ip[i], 0) << i;
  EXPECT_EQ(e.port, 7070);
}

TEST(Endpoint, ParsesBracketedIpv6) {
  const auto e = parsed("[::1]:80");
  EXPECT_EQ(e.family, ip_family::v6);
  for (std::size_t i = 0; i < 15; ++i)
    EXPECT_EQ(e.ip[i], 0) << i;
  EXPECT_EQ(e.ip[15], 1);
  EXPECT_EQ(e.port, 80);
}

TEST(Endpoint, AcceptsPortBounds) {
  EXPECT_EQ(parsed("127.0.0.1:0").port, 0);  // "pick a free port" for --listen
  EXPECT_EQ(parsed("127.0.0.1:65535").port, 65535);
}

TEST(Endpoint, RejectsMalformedText) {
  for (const char* text : {"",
                           "127.0.0.1",
                           "127.0.0.1:",
                           ":80",
                           "127.0.0.1:65536",
                           "127.0.0.1:-1",
                           "127.0.0.1:+1",
                           "1.2.3.4:80x",
                           "1.2.3.4: 80",
                           "1.2.3.4:99999999999999999999",
                           "[::1]80",
                           "[::1]:",
                           "[::1",
                           "::1:80",
                           "[1.2.3.4]:80",
                           "300.1.1.1:1",
                           "1.2.3:80",
                           "localhost:80",
                           "[localhost]:80",
                           " 127.0.0.1:80",
                           "127.0.0.1:80 ",
                           "[fe80::1%lo]:80"}) {
    EXPECT_FALSE(parse_endpoint(text).ok()) << '"' << text << '"';
  }
}

TEST(Endpoint, ToStringRoundTrips) {
  for (const char* text : {"127.0.0.1:7070", "10.0.0.255:1", "0.0.0.0:0", "[::1]:80",
                           "[2001:db8::1]:65535", "[::ffff:127.0.0.1]:7070", "[::]:9"}) {
    EXPECT_EQ(to_string(parsed(text)), text);
  }
}

TEST(Endpoint, ToStringUsesCanonicalIpv6Form) {
  EXPECT_EQ(to_string(parsed("[2001:0DB8:0:0:0:0:0:0001]:80")), "[2001:db8::1]:80");
}

TEST(Endpoint, IpToStringHasNoPortOrBrackets) {
  EXPECT_EQ(ip_to_string(parsed("127.0.0.2:7070")), "127.0.0.2");
  EXPECT_EQ(ip_to_string(parsed("[::1]:7070")), "::1");
}

TEST(Endpoint, IsLoopback) {
  EXPECT_TRUE(is_loopback(parsed("127.0.0.1:1")));
  EXPECT_TRUE(is_loopback(parsed("127.255.3.4:1")));
  EXPECT_TRUE(is_loopback(parsed("[::1]:1")));
  EXPECT_TRUE(is_loopback(parsed("[::ffff:127.0.0.1]:1")));
  EXPECT_FALSE(is_loopback(parsed("128.0.0.1:1")));
  EXPECT_FALSE(is_loopback(parsed("10.0.0.1:1")));
  EXPECT_FALSE(is_loopback(parsed("[::2]:1")));
  EXPECT_FALSE(is_loopback(parsed("[::ffff:10.0.0.1]:1")));
  EXPECT_FALSE(is_loopback(parsed("0.0.0.0:1")));
}

TEST(Endpoint, IsUnspecified) {
  EXPECT_TRUE(is_unspecified(parsed("0.0.0.0:1")));
  EXPECT_TRUE(is_unspecified(parsed("[::]:1")));
  EXPECT_TRUE(is_unspecified(parsed("[::ffff:0.0.0.0]:1")));
  EXPECT_FALSE(is_unspecified(parsed("0.0.0.1:1")));
  EXPECT_FALSE(is_unspecified(parsed("[::1]:1")));
}

TEST(Endpoint, IsMulticastOrBroadcast) {
  EXPECT_TRUE(is_multicast_or_broadcast(parsed("224.0.0.1:1")));
  EXPECT_TRUE(is_multicast_or_broadcast(parsed("239.255.255.250:1")));
  EXPECT_TRUE(is_multicast_or_broadcast(parsed("255.255.255.255:1")));
  EXPECT_TRUE(is_multicast_or_broadcast(parsed("[ff02::1]:1")));
  EXPECT_TRUE(is_multicast_or_broadcast(parsed("[::ffff:224.0.0.1]:1")));
  EXPECT_FALSE(is_multicast_or_broadcast(parsed("223.255.255.255:1")));
  EXPECT_FALSE(is_multicast_or_broadcast(parsed("127.0.0.1:1")));
  EXPECT_FALSE(is_multicast_or_broadcast(parsed("[fe80::1]:1")));
  EXPECT_FALSE(is_multicast_or_broadcast(parsed("[::1]:1")));
}

TEST(Endpoint, IsDialableWithoutLoopbackRestriction) {
  EXPECT_TRUE(is_dialable(parsed("127.0.0.1:7070"), false));
  EXPECT_TRUE(is_dialable(parsed("10.1.2.3:7070"), false));
  EXPECT_TRUE(is_dialable(parsed("[2001:db8::1]:7070"), false));
  EXPECT_FALSE(is_dialable(parsed("10.1.2.3:0"), false));
  EXPECT_FALSE(is_dialable(parsed("0.0.0.0:7070"), false));
  EXPECT_FALSE(is_dialable(parsed("[::]:7070"), false));
  EXPECT_FALSE(is_dialable(parsed("224.0.0.1:7070"), false));
  EXPECT_FALSE(is_dialable(parsed("255.255.255.255:7070"), false));
  EXPECT_FALSE(is_dialable(parsed("[ff02::1]:7070"), false));
}

TEST(Endpoint, IsDialableWithLoopbackOnlyAcceptsOnlyLoopback) {
  EXPECT_TRUE(is_dialable(parsed("127.0.0.1:7070"), true));
  EXPECT_TRUE(is_dialable(parsed("127.0.0.3:7070"), true));
  EXPECT_TRUE(is_dialable(parsed("[::1]:7070"), true));
  EXPECT_FALSE(is_dialable(parsed("10.1.2.3:7070"), true));
  EXPECT_FALSE(is_dialable(parsed("[2001:db8::1]:7070"), true));
  EXPECT_FALSE(is_dialable(parsed("127.0.0.1:0"), true));
}

TEST(Endpoint, IsDialableRejectsUnknownFamily) {
  endpoint e = parsed("127.0.0.1:7070");
  e.family = static_cast<ip_family>(5);
  EXPECT_FALSE(is_dialable(e, false));
}

TEST(Endpoint, EqualityComparesFamilyAddressAndPort) {
  EXPECT_EQ(parsed("127.0.0.1:1"), parsed("127.0.0.1:1"));
  EXPECT_NE(parsed("127.0.0.1:1"), parsed("127.0.0.1:2"));
  EXPECT_NE(parsed("127.0.0.1:1"), parsed("127.0.0.2:1"));
  EXPECT_NE(parsed("127.0.0.1:1"), parsed("[::ffff:127.0.0.1]:1"));
}

TEST(Endpoint, ScopeOfAnAddress) {
  EXPECT_EQ(scope_of(parsed("127.0.0.9:1")), address_scope::host);
  EXPECT_EQ(scope_of(parsed("[::1]:1")), address_scope::host);
  EXPECT_EQ(scope_of(parsed("[::ffff:127.0.0.1]:1")), address_scope::host);
  EXPECT_EQ(scope_of(parsed("169.254.3.4:1")), address_scope::link);
  EXPECT_EQ(scope_of(parsed("[fe80::1]:1")), address_scope::link);
  EXPECT_EQ(scope_of(parsed("[febf::1]:1")), address_scope::link);
  EXPECT_EQ(scope_of(parsed("[fec0::1]:1")), address_scope::network);
  EXPECT_EQ(scope_of(parsed("10.77.0.1:1")), address_scope::network);
  EXPECT_EQ(scope_of(parsed("[2001:db8::1]:1")), address_scope::network);
}

TEST(Endpoint, LoopbackAddressesMeanNothingToAPeerOnAnotherHost) {
  const auto lan_peer = parsed("10.77.0.2:5000");
  const auto local_peer = parsed("127.0.0.5:5000");
  EXPECT_FALSE(is_meaningful_to(parsed("127.0.0.2:7070"), lan_peer));
  EXPECT_FALSE(is_meaningful_to(parsed("[::1]:7070"), lan_peer));
  EXPECT_TRUE(is_meaningful_to(parsed("127.0.0.2:7070"), local_peer));
  EXPECT_TRUE(is_meaningful_to(parsed("10.77.0.3:7070"), lan_peer));
  EXPECT_TRUE(is_meaningful_to(parsed("10.77.0.3:7070"), local_peer));
  // Link-local IPv4 only within a link; IPv6 link-local never (no zone on the wire).
  EXPECT_TRUE(is_meaningful_to(parsed("169.254.1.1:7070"), parsed("169.254.9.9:1")));
  EXPECT_FALSE(is_meaningful_to(parsed("169.254.1.1:7070"), lan_peer));
  EXPECT_FALSE(is_meaningful_to(parsed("[fe80::1]:7070"), parsed("[fe80::2]:1")));
  EXPECT_FALSE(is_meaningful_to(parsed("[fe80::1]:7070"), local_peer));
}

TEST(Endpoint, HostPortTakesLiteralsAndHostNames) {
  const auto literal = parse_host_port("10.77.0.1:7070");
  ASSERT_TRUE(literal.ok());
  EXPECT_TRUE(literal->is_literal);
  EXPECT_EQ(literal->literal, parsed("10.77.0.1:7070"));
  const auto v6 = parse_host_port("[::1]:7070");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->is_literal);
  EXPECT_EQ(to_string(*v6), "[::1]:7070");
  const auto name = parse_host_port("Teacher.Local.:7070");
  ASSERT_TRUE(name.ok());
  EXPECT_FALSE(name->is_literal);
  EXPECT_EQ(name->host, "teacher.local");
  EXPECT_EQ(name->port, 7070);
  EXPECT_EQ(to_string(*name), "teacher.local:7070");
  EXPECT_TRUE(parse_host_port("lab-pc-3:1").ok());
}

TEST(Endpoint, HostPortRejectsWhatNoResolverShouldSee) {
  for (const auto* text :
       {"teacher", "teacher:", "teacher:0x1", "teacher:70000", ":7070", "-lead.local:7070",
        "lead-.local:7070", "a..b:7070", "a b:7070", "a_b:7070", "::1:7070", "[::1:7070",
        "10.0.0.256:7070", "1.2.3:7070", "t\x00x:7070"}) {
    EXPECT_FALSE(parse_host_port(text).ok()) << text;
  }
  EXPECT_FALSE(parse_host_port(std::string(64, 'a') + ".local:1").ok()) << "label over 63";
  EXPECT_FALSE(
      parse_host_port(
          std::string(250, 'a').replace(60, 1, ".").replace(120, 1, ".").replace(180, 1, ".") +
          ".abcd:1")
          .ok())
      << "name over 253";
}

}  // namespace
}  // namespace peerlab::protocol

// BEP 11 peer exchange (ut_pex): the bytes we send pinned, a payload in the
// form other clients send read back, and what a hostile peer may try: odd
// lengths, truncation, undialable addresses, lists over the limit, garbage.

#include "protocol/bt_pex.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_data.hpp"

namespace peerlab::protocol::bt {
namespace {

endpoint at(std::string_view text) {
  auto e = parse_endpoint(text);
  EXPECT_TRUE(e.ok()) << text;
  return e.ok() ? *e : endpoint{};
}

// 10.0.0.1 + i (wrapping into the next octet) on port 6881.
endpoint v4_peer(std::size_t i) {
  endpoint e;
  e.ip[0] = 10;
  e.ip[2] = static_cast<std::uint8_t>((i + 1) >> 8);
  e.ip[3] = static_cast<std::uint8_t>(i + 1);
  e.port = 6881;
  return e;
}

endpoint v6_peer(std::size_t i) {
  endpoint e = at("[2001:db8::1]:6881");
  e.ip[14] = static_cast<std::uint8_t>(i >> 8);
  e.ip[15] = static_cast<std::uint8_t>(i);
  return e;
}

TEST(BtPex, EncodesEveryKeyCompactAndSorted) {
  pex_message m;
  m.added = {{at("10.0.0.1:6881"), pex_seed | pex_reachable}, {at("[2001:db8::7]:51413"), pex_utp}};
  m.dropped = {at("192.168.1.2:80")};
  const auto bytes = encode_pex(m);
  const std::string expected =
      "d5:added6:" + std::string("\x0a\x00\x00\x01\x1a\xe1", 6) +  // 10.0.0.1:6881
      "7:added.f1:\x12"                                            // seed | reachable
      "6:added618:" +
      std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07\xc8\xd5", 18) +  // :51413
      "8:added6.f1:\x04"                                                       // utp
      "7:dropped6:" +
      std::string("\xc0\xa8\x01\x02\x00\x50", 6) +  // 192.168.1.2:80
      "8:dropped60:e";
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), expected);
  const auto back = decode_pex(bytes);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, m);
}

TEST(BtPex, EmptyMessageStillCarriesEveryKey) {
  // libtorrent writes all six keys whatever they hold; so do we.
  const auto bytes = encode_pex({});
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()),
            "d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e");
  const auto back = decode_pex(bytes);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, pex_message{});
}

TEST(BtPex, RoundTripsBothFamiliesIpv4First) {
  pex_message m;
  for (std::size_t i = 0; i < 50; ++i) {
    m.added.push_back({v4_peer(i), static_cast<std::uint8_t>(i)});
    m.dropped.push_back(v6_peer(i));
  }
  for (std::size_t i = 0; i < 10; ++i) {
    m.added.push_back({v6_peer(i), pex_prefers_encryption});
    m.dropped.push_back(v4_peer(100 + i));
  }
  const auto back = decode_pex(encode_pex(m));
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(back->added, m.added);  // already IPv4 first
  ASSERT_EQ(back->dropped.size(), 60u);
  // On the wire dropped and dropped6 are two strings: IPv4 come back first.
  EXPECT_EQ(back->dropped.front(), v4_peer(100));
  EXPECT_EQ(back->dropped[10], v6_peer(0));
}

TEST(BtPex, ReadsAPayloadBuiltByHandFromBep11) {
  // What a client sends a minute after connecting, key by key as BEP 11
  // lists them: two IPv4 peers with flags, one IPv6 peer without added6.f,
  // one dropped peer, and a key we do not know (ignored, as BEP 10 asks).
  const std::string payload =
      "d5:added12:" + std::string("\x7f\x00\x00\x02\x1b\x58", 6) +  // 127.0.0.2:7000
      std::string("\x7f\x00\x00\x03\x1b\x59", 6) +                  // 127.0.0.3:7001
      "7:added.f2:" + std::string("\x01\x12", 2) +
      "6:added618:" + std::string("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x1b\x5a", 18) +  // [::1]:7002
      "7:dropped6:" + std::string("\x7f\x00\x00\x04\x1b\x5b", 6) +  // 127.0.0.4:7003
      "11:x-somethingd1:ai1eee";
  const auto m = decode_pex(bytes_of(payload));
  ASSERT_TRUE(m.ok()) << m.error_message();
  const std::vector<pex_peer> added = {{at("127.0.0.2:7000"), pex_prefers_encryption},
                                       {at("127.0.0.3:7001"), pex_seed | pex_reachable},
                                       {at("[::1]:7002"), 0}};
  EXPECT_EQ(m->added, added);
  EXPECT_EQ(m->dropped, std::vector<endpoint>{at("127.0.0.4:7003")});
  // Transmission may leave keys out altogether.
  const auto only_added = decode_pex(bytes_of("d5:added6:" + payload.substr(11, 6) + "e"));
  ASSERT_TRUE(only_added.ok()) << only_added.error_message();
  EXPECT_EQ(only_added->added, (std::vector<pex_peer>{{added[0].address, 0}}));
  EXPECT_TRUE(only_added->dropped.empty());
  ASSERT_TRUE(decode_pex(bytes_of("de")).ok());
}

TEST(BtPex, RefusesCompactStringsOfOddLength) {
  for (const char* bad :
       {"d5:added7:1234567e", "d5:added5:12345e", "d6:added617:12345678901234567e",
        "d6:added66:123456e", "d7:dropped1:xe", "d8:dropped619:1234567890123456789e"}) {
    EXPECT_FALSE(decode_pex(bytes_of(bad)).ok()) << bad;
  }
  // Known keys of the wrong type are errors too; unknown ones are not.
  for (const char* bad :
       {"d5:addedi1ee", "d5:added0:7:added.fle", "d7:droppedlee", "d8:dropped6dee"})
    EXPECT_FALSE(decode_pex(bytes_of(bad)).ok()) << bad;
  EXPECT_TRUE(decode_pex(bytes_of("d7:addedxxi1ee")).ok());
}

TEST(BtPex, EveryTruncationIsAnError) {
  pex_message m;
  m.added = {{at("10.0.0.1:6881"), pex_seed}, {at("[2001:db8::7]:51413"), 0}};
  m.dropped = {at("10.0.0.2:6881")};
  const auto whole = encode_pex(m);
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(decode_pex(std::span(whole).first(n)).ok()) << n;
  }
  auto longer = whole;
  longer.push_back('e');
  EXPECT_FALSE(decode_pex(longer).ok());
}

TEST(BtPex, FlagsShorterThanThePeersAreZeroAndLongerAreIgnored) {
  const std::string two = std::string("\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x1a\xe1", 12);
  const auto shorter = decode_pex(bytes_of("d5:added12:" + two + "7:added.f1:\x02" + "e"));
  ASSERT_TRUE(shorter.ok()) << shorter.error_message();
  ASSERT_EQ(shorter->added.size(), 2u);
  EXPECT_EQ(shorter->added[0].flags, pex_seed);
  EXPECT_EQ(shorter->added[1].flags, 0);
  const auto longer =
      decode_pex(bytes_of("d5:added12:" + two + "7:added.f5:\x02\x04\x08\x10\x01" + "e"));
  ASSERT_TRUE(longer.ok()) << longer.error_message();
  ASSERT_EQ(longer->added.size(), 2u);
  EXPECT_EQ(longer->added[1].flags, pex_utp);
}

TEST(BtPex, SkipsAddressesNobodyCouldDialKeepingFlagsInPlace) {
  pex_message sent;
  sent.added = {{at("10.0.0.1:0"), 1},        {at("0.0.0.0:6881"), 2},
                {at("224.0.0.1:6881"), 3},    {at("255.255.255.255:6881"), 4},
                {at("10.0.0.9:6881"), 5},     {at("[::]:6881"), 6},
                {at("[ff02::1]:6881"), 7},    {at("[::ffff:0.0.0.0]:6881"), 8},
                {at("[2001:db8::9]:6881"), 9}};
  sent.dropped = {at("10.0.0.1:0"), at("[::]:1"), at("10.0.0.3:1")};
  const auto m = decode_pex(encode_pex(sent));
  ASSERT_TRUE(m.ok()) << m.error_message();
  const std::vector<pex_peer> expected = {{at("10.0.0.9:6881"), 5}, {at("[2001:db8::9]:6881"), 9}};
  EXPECT_EQ(m->added, expected);
  EXPECT_EQ(m->dropped, std::vector<endpoint>{at("10.0.0.3:1")});
}

TEST(BtPex, KeepsAtMostMaxPeersPerList) {
  pex_message big;
  for (std::size_t i = 0; i < 300; ++i)
    big.added.push_back({v4_peer(i), 0});
  for (std::size_t i = 0; i < 100; ++i)
    big.added.push_back({v6_peer(i), 0});
  for (std::size_t i = 0; i < 250; ++i)
    big.dropped.push_back(v6_peer(i));
  // The encoder writes the first max_pex_peers of each list...
  const auto encoded = decode_pex(encode_pex(big));
  ASSERT_TRUE(encoded.ok()) << encoded.error_message();
  EXPECT_EQ(encoded->added.size(), max_pex_peers);
  EXPECT_EQ(encoded->dropped.size(), max_pex_peers);
  // ...and the decoder reads no more than that from anyone else's.
  std::string added;
  for (std::size_t i = 0; i < 300; ++i) {
    const auto e = v4_peer(i);
    added.append(reinterpret_cast<const char*>(e.ip.data()), 4);
    added += std::string("\x1a\xe1", 2);
  }
  std::string added6;
  for (std::size_t i = 0; i < 100; ++i) {
    const auto e = v6_peer(i);
    added6.append(reinterpret_cast<const char*>(e.ip.data()), 16);
    added6 += std::string("\x1a\xe1", 2);
  }
  const auto m =
      decode_pex(bytes_of("d5:added" + std::to_string(added.size()) + ":" + added + "6:added6" +
                          std::to_string(added6.size()) + ":" + added6 + "e"));
  ASSERT_TRUE(m.ok()) << m.error_message();
  ASSERT_EQ(m->added.size(), max_pex_peers);
  EXPECT_EQ(m->added.front().address, v4_peer(0));
  EXPECT_EQ(m->added.back().address, v4_peer(max_pex_peers - 1));
}

TEST(BtPex, RefusesOversizedPayloadsBombsAndGarbage) {
  // Above the limit before any decoding, even when well-formed.
  const std::string huge(max_pex_payload_bytes, 'x');
  EXPECT_FALSE(decode_pex(bytes_of("d1:x" + std::to_string(huge.size()) + ":" + huge + "e")).ok());
  const std::string bomb = "d1:x" + std::string(5'000, 'l') + std::string(5'000, 'e') + "e";
  EXPECT_FALSE(decode_pex(bytes_of(bomb)).ok());
  std::string many = "d1:xl";
  for (int i = 0; i < 5000; ++i)
    many += "i1e";
  EXPECT_FALSE(decode_pex(bytes_of(many + "ee")).ok());
  for (const char* bad : {"", "le", "i1e", "5:added", "d5:added", "d5:added6:",
                          "\x13"
                          "BitTorrent"})
    EXPECT_FALSE(decode_pex(bytes_of(bad)).ok()) << bad;
  // Pseudo-random bytes, some behind a valid-looking start: errors, never a crash.
  std::uint32_t state = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::uint8_t> junk = round % 2 ? bytes_of("d5:added") : std::vector<std::uint8_t>{};
    const int n = round % 97;
    for (int i = 0; i < n; ++i) {
      state = state * 1103515245u + 12345u;
      junk.push_back(static_cast<std::uint8_t>(state >> 16));
    }
    const auto m = decode_pex(junk);
    if (m) {
      EXPECT_LE(m->added.size(), max_pex_peers);
      EXPECT_LE(m->dropped.size(), max_pex_peers);
    }
  }
}

}  // namespace
}  // namespace peerlab::protocol::bt

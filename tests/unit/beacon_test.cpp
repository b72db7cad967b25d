// The LAN discovery beacon (docs/protocol.md §12): its exact bytes, and the
// datagrams a receiver must refuse.

#include "protocol/beacon.hpp"

#include <gtest/gtest.h>

#include <string>

namespace peerlab::protocol {
namespace {

beacon sample() {
  beacon b;
  b.id = *node_id_from_hex("0123456789abcdef0123456789abcdef");
  b.port = 7070;
  return b;
}

TEST(Beacon, EncodesTheDocumentedBytes) {
  EXPECT_EQ(encode_beacon(sample()),
            "PEERLAB-BEACON 1\r\nId: 0123456789abcdef0123456789abcdef\r\nPort: 7070\r\n\r\n");
}

TEST(Beacon, RoundTrips) {
  const auto parsed = parse_beacon(encode_beacon(sample()));
  ASSERT_TRUE(parsed.ok()) << parsed.error_message();
  EXPECT_EQ(*parsed, sample());
}

TEST(Beacon, HeaderNamesAnyCaseAnyOrderSpacesAroundValuesUnknownHeadersIgnored) {
  const auto parsed = parse_beacon(
      "PEERLAB-BEACON 1\r\nport:7070 \r\nX-Later: whatever\r\nID:   "
      "0123456789abcdef0123456789abcdef\r\n\r\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error_message();
  EXPECT_EQ(*parsed, sample());
}

TEST(Beacon, RefusesWhatIsNotExactlyOneVersion1Beacon) {
  const std::string id = "Id: 0123456789abcdef0123456789abcdef\r\n";
  const std::string port = "Port: 7070\r\n";
  const std::string cases[] = {
      std::string(),
      "PEERLAB-BEACON 2\r\n" + id + port + "\r\n",  // another version
      "PEERLAB-BEACON 1\n" + id + port + "\r\n",    // bare LF
      std::string("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 7070\r\n\r\n"),
      "PEERLAB-BEACON 1\r\n" + id + port,                  // no empty line
      "PEERLAB-BEACON 1\r\n" + id + port + "\r\nextra",    // bytes after it
      "PEERLAB-BEACON 1\r\n" + port + "\r\n",              // no Id
      "PEERLAB-BEACON 1\r\n" + id + "\r\n",                // no Port
      "PEERLAB-BEACON 1\r\n" + id + id + port + "\r\n",    // two Ids
      "PEERLAB-BEACON 1\r\n" + id + port + port + "\r\n",  // two Ports
      "PEERLAB-BEACON 1\r\nId: 0123456789ABCDEF0123456789ABCDEF\r\n" + port + "\r\n",
      "PEERLAB-BEACON 1\r\nId: 0123\r\n" + port + "\r\n",
      "PEERLAB-BEACON 1\r\n" + id + "Port: 0\r\n\r\n",
      "PEERLAB-BEACON 1\r\n" + id + "Port: 65536\r\n\r\n",
      "PEERLAB-BEACON 1\r\n" + id + "Port: +7070\r\n\r\n",
      "PEERLAB-BEACON 1\r\n" + id + "Port: 7070x\r\n\r\n",
      "PEERLAB-BEACON 1\r\n" + id + "Port\r\n\r\n",
  };
  for (const auto& text : cases) {
    EXPECT_FALSE(parse_beacon(text).ok()) << text;
  }
}

TEST(Beacon, RefusesOverlongDatagramsAndTooManyHeaders) {
  auto text = encode_beacon(sample());
  text.insert(text.size() - 2, "X: " + std::string(max_beacon_bytes, 'x') + "\r\n");
  EXPECT_FALSE(parse_beacon(text).ok());
  std::string many = "PEERLAB-BEACON 1\r\n";
  for (std::size_t i = 0; i < max_beacon_headers; ++i)
    many += "X: y\r\n";
  EXPECT_FALSE(parse_beacon(many + "Id: 0123456789abcdef0123456789abcdef\r\nPort: 1\r\n\r\n").ok());
}

}  // namespace
}  // namespace peerlab::protocol

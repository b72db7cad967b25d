// Messages: the payload inside a frame. The byte-layout tests pin the wire
// format that docs/protocol.md documents; the rest prove that decode() turns
// any untrusted byte string into a message or an error, never a crash or a
// huge allocation.

#include "protocol/messages.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/frame.hpp"
#include "test_data.hpp"

namespace peerlab::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

endpoint ep(const char* text) {
  auto r = parse_endpoint(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error_message();
  return r.ok() ? *r : endpoint{};
}

node_id sample_id() {
  return {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
          0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
}

hello sample_hello() {
  hello h;
  h.id = sample_id();
  h.listen_port = 7070;
  h.name = "alice";
  return h;
}

peers sample_peers() {
  return peers{{ep("127.0.0.2:7071"), ep("[::1]:7072")}};
}

content_id sample_content_id() {
  content_id id{};
  for (std::size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<std::uint8_t>(i);
  return id;
}

catalog sample_catalog() {
  return catalog{{catalog_entry{sample_content_id(), "a.txt", 5, true}}};
}

request sample_request() {
  return request{sample_content_id(), 3};
}

chunk sample_chunk() {
  return chunk{sample_content_id(), 3, {'h', 'e', 'l', 'l', 'o'}};
}

// A valid, small encoding of every message type: seeds for the fuzz loops and
// inputs for the truncation and trailing-byte tests.
std::vector<message> every_message_type() {
  return {
      sample_hello(),
      get_peers{},
      sample_peers(),
      keepalive{},
      get_catalog{},
      catalog{{catalog_entry{sample_content_id(), "a.txt", 5, true},
               catalog_entry{content_id{}, "caf\xc3\xa9 menu.pdf", 123456789, false}}},
      get_manifest{sample_content_id()},
      manifest_data{sample_content_id(), {0x01, 0x02, 0x03}},
      get_chunk_map{sample_content_id()},
      chunk_map{sample_content_id(), {0xff, 0x80}},
      have{sample_content_id(), 7},
      sample_request(),
      sample_chunk(),
      reject{sample_content_id(), 0xffffffff},
      cancel{sample_content_id(), 0},
  };
}

std::vector<bytes> every_message_encoding() {
  std::vector<bytes> out;
  for (const auto& m : every_message_type())
    out.push_back(encode(m));
  return out;
}

// The documented encodings (docs/protocol.md, "Worked examples").
const bytes expected_hello_payload = {
    0x01,                                            // type: hello
    0x01,                                            // endianness flag: little
    0x42, 0x41, 0x4c, 0x50,                          // magic 0x504c4142 "PLAB"
    0x01, 0x00,                                      // version 1
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,  // node id
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,  //
    0x9e, 0x1b,                                      // listen_port 7070
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // name length 5
    'a',  'l',  'i',  'c',  'e',                     // name
};

#define CONTENT_ID_BYTES                                                                          \
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, \
      0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,   \
      0x1f

const bytes expected_catalog_payload = {
    0x06,  // type: catalog
    0x01,  // endianness flag: little
    0x01,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,              // entry count 1
    CONTENT_ID_BYTES,  // content id
    0x05,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,  // name length 5
    'a',
    '.',
    't',
    'x',
    't',  // name
    0x05,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,  // size 5
    0x01,  // complete
};

const bytes expected_request_payload = {
    0x0c,              // type: request
    0x01,              // endianness flag: little
    CONTENT_ID_BYTES,  // content id
    0x03,
    0x00,
    0x00,
    0x00,  // index 3
};

const bytes expected_chunk_payload = {
    0x0d,              // type: chunk
    0x01,              // endianness flag: little
    CONTENT_ID_BYTES,  // content id
    0x03,
    0x00,
    0x00,
    0x00,  // index 3
    0x05,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,  // data length 5
    'h',
    'e',
    'l',
    'l',
    'o',  // data
};

#undef CONTENT_ID_BYTES

const bytes expected_peers_payload = {
    0x03,                                            // type: peers
    0x01,                                            // endianness flag: little
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // count 2
    0x04, 0x7f, 0x00, 0x00, 0x02,                    // IPv4 127.0.0.2
    0x9f, 0x1b,                                      // port 7071
    0x06,                                            // IPv6 ::1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  //
    0xa0, 0x1b,                                      // port 7072
};

// A payload with a u64 size tag at `offset` replaced by `n`.
bytes with_size_tag(bytes payload, std::size_t offset, std::uint64_t n) {
  for (int i = 0; i < 8; ++i)
    payload[offset + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return payload;
}

void expect_round_trip(const message& m) {
  const auto encoded = encode(m);
  auto decoded = decode(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, m);
  EXPECT_EQ(type_name(*decoded), type_name(m));
}

void expect_limit_error(const bytes& payload) {
  auto r = decode(payload);
  ASSERT_FALSE(r.ok());
  EXPECT_PRED2(contains, r.error_message(), "exceeds the maximum");
}

TEST(Messages, HelloRoundTrips) {
  expect_round_trip(sample_hello());
}

TEST(Messages, HelloWithEmptyNameRoundTrips) {
  hello h = sample_hello();
  h.name.clear();
  expect_round_trip(h);
}

TEST(Messages, GetPeersRoundTrips) {
  expect_round_trip(get_peers{});
}

TEST(Messages, KeepaliveRoundTrips) {
  expect_round_trip(keepalive{});
}

TEST(Messages, PeersWithIpv4AndIpv6RoundTrips) {
  expect_round_trip(peers{{ep("10.1.2.3:1"), ep("[2001:db8::7]:65535"),
                           ep("[::ffff:127.0.0.1]:7070"), ep("127.0.0.1:7070")}});
}

TEST(Messages, EmptyPeersRoundTrips) {
  expect_round_trip(peers{});
}

TEST(Messages, HelloHasDocumentedByteLayout) {
  EXPECT_EQ(encode(sample_hello()), expected_hello_payload);
  // The hex dump in docs/protocol.md, "Worked examples".
  EXPECT_EQ(
      to_hex(encode_frame(encode(sample_hello()))),
      "00000027010142414c50010000112233445566778899aabbccddeeff9e1b0500000000000000616c696365");
}

TEST(Messages, PeersHasDocumentedByteLayout) {
  EXPECT_EQ(encode(sample_peers()), expected_peers_payload);
  EXPECT_EQ(to_hex(encode_frame(encode(sample_peers()))),
            "0000002403010200000000000000047f0000029f1b0600000000000000000000000000000001a01b");
}

TEST(Messages, DocumentedBytesDecodeToTheDocumentedMessages) {
  auto h = decode(expected_hello_payload);
  ASSERT_TRUE(h.ok()) << h.error_message();
  EXPECT_EQ(*h, message{sample_hello()});
  auto p = decode(expected_peers_payload);
  ASSERT_TRUE(p.ok()) << p.error_message();
  EXPECT_EQ(*p, message{sample_peers()});
}

TEST(Messages, FieldlessMessagesAreTypeAndFlagOnly) {
  EXPECT_EQ(encode(get_peers{}), (bytes{0x02, 0x01}));
  EXPECT_EQ(encode(keepalive{}), (bytes{0x04, 0x01}));
  EXPECT_EQ(encode(peers{}), (bytes{0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(Messages, AcceptsNameOfMaximumLength) {
  hello h = sample_hello();
  h.name = std::string(max_name_bytes, 'n');
  expect_round_trip(h);
}

TEST(Messages, RejectsNameOneByteOverMaximum) {
  hello h = sample_hello();
  h.name = std::string(max_name_bytes + 1, 'n');
  expect_limit_error(encode(h));
}

TEST(Messages, RejectsGibibyteStringLengthWithoutAllocating) {
  // The name's size tag sits after type, flag, magic, version, id, port.
  constexpr std::size_t name_tag = 1 + 1 + 4 + 2 + 16 + 2;
  expect_limit_error(with_size_tag(expected_hello_payload, name_tag, 1ull << 30));
  expect_limit_error(
      with_size_tag(expected_hello_payload, name_tag, std::numeric_limits<std::uint64_t>::max()));
}

TEST(Messages, AcceptsMaximumPeerCount) {
  peers p;
  for (std::size_t i = 0; i < max_peers_per_message; ++i) {
    p.addresses.push_back(ep(("127.0.0.1:" + std::to_string(1000 + i)).c_str()));
  }
  expect_round_trip(p);
}

TEST(Messages, RejectsPeerCountOneOverMaximum) {
  peers p;
  p.addresses.assign(max_peers_per_message + 1, ep("127.0.0.1:1"));
  expect_limit_error(encode(p));
}

TEST(Messages, RejectsHugePeerCountsWithoutAllocating) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  for (std::uint64_t n : {std::uint64_t{1} << 32, std::numeric_limits<std::uint64_t>::max()}) {
    expect_limit_error(with_size_tag(expected_peers_payload, 2, n));
  }
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  // ru_maxrss is in KiB: a resize before the check would touch gigabytes.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024);
}

TEST(Messages, RejectsUnknownMessageType) {
  for (std::uint8_t type : {0, 16, 0x7f, 0xff}) {
    auto r = decode(bytes{type, 0x01});
    ASSERT_FALSE(r.ok()) << int{type};
    EXPECT_PRED2(contains, r.error_message(), "unknown message type");
  }
}

TEST(Messages, RejectsUnknownAddressFamily) {
  for (std::uint8_t family : {0, 2, 5, 10, 0xff}) {
    bytes payload = expected_peers_payload;
    payload[10] = family;  // first entry's family byte
    auto r = decode(payload);
    ASSERT_FALSE(r.ok()) << int{family};
    EXPECT_PRED2(contains, r.error_message(), "unknown address family");
  }
}

TEST(Messages, RejectsEveryTruncation) {
  auto inputs = every_message_encoding();
  inputs.push_back(encode(peers{}));
  inputs.push_back(encode(catalog{}));
  for (const auto& full : inputs) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      auto r = decode(std::span(full).first(n));
      EXPECT_FALSE(r.ok()) << "prefix of " << n << " of " << to_hex(full);
    }
  }
}

TEST(Messages, RejectsTrailingBytes) {
  for (auto full : every_message_encoding()) {
    full.push_back(0);
    auto r = decode(full);
    ASSERT_FALSE(r.ok()) << to_hex(full);
    EXPECT_PRED2(contains, r.error_message(), "unexpected bytes");
  }
}

TEST(Messages, RejectsEndiannessFlagOtherThanLittle) {
  for (std::uint8_t flag : {0, 2, 0xff}) {
    bytes payload = expected_hello_payload;
    payload[1] = flag;
    EXPECT_FALSE(decode(payload).ok()) << int{flag};
    EXPECT_FALSE(decode(bytes{0x02, flag}).ok()) << int{flag};
  }
}

TEST(Messages, HandshakeProblemIsEmptyForOurHello) {
  EXPECT_EQ(handshake_problem(hello{}), "");
}

TEST(Messages, HandshakeProblemReportsWrongMagic) {
  hello h = sample_hello();
  h.magic = 0x42414c50;  // "PLAB" with the wrong byte order
  EXPECT_PRED2(contains, handshake_problem(h), "magic");
}

TEST(Messages, HandshakeProblemReportsWrongVersion) {
  for (std::uint16_t version : {0, 2, 0xffff}) {
    hello h = sample_hello();
    h.version = version;
    EXPECT_PRED2(contains, handshake_problem(h), "version " + std::to_string(version));
  }
}

TEST(Messages, WrongMagicStillDecodesSoTheNodeCanExplain) {
  bytes payload = expected_hello_payload;
  payload[2] = 0x00;
  auto r = decode(payload);
  ASSERT_TRUE(r.ok()) << r.error_message();
  ASSERT_TRUE(std::holds_alternative<hello>(*r));
  EXPECT_NE(handshake_problem(std::get<hello>(*r)), "");
}

TEST(Messages, TypeNamesAreStable) {
  EXPECT_EQ(type_name(hello{}), "hello");
  EXPECT_EQ(type_name(get_peers{}), "get_peers");
  EXPECT_EQ(type_name(peers{}), "peers");
  EXPECT_EQ(type_name(keepalive{}), "keepalive");
  EXPECT_EQ(type_name(get_catalog{}), "get_catalog");
  EXPECT_EQ(type_name(catalog{}), "catalog");
  EXPECT_EQ(type_name(get_manifest{}), "get_manifest");
  EXPECT_EQ(type_name(manifest_data{}), "manifest_data");
  EXPECT_EQ(type_name(get_chunk_map{}), "get_chunk_map");
  EXPECT_EQ(type_name(chunk_map{}), "chunk_map");
  EXPECT_EQ(type_name(have{}), "have");
  EXPECT_EQ(type_name(request{}), "request");
  EXPECT_EQ(type_name(chunk{}), "chunk");
  EXPECT_EQ(type_name(reject{}), "reject");
  EXPECT_EQ(type_name(cancel{}), "cancel");
}

TEST(Messages, TypeByteMatchesTheEnumeration) {
  const auto all = every_message_type();
  ASSERT_EQ(all.size(), std::variant_size_v<message>);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].index(), i);
    EXPECT_EQ(encode(all[i])[0], i + 1) << type_name(all[i]);
  }
}

// ---- Transfer messages (types 5-15) ----

TEST(Messages, EveryMessageTypeRoundTrips) {
  for (const auto& m : every_message_type())
    expect_round_trip(m);
  expect_round_trip(catalog{});
  expect_round_trip(manifest_data{sample_content_id(), {}});  // "I do not have it"
  expect_round_trip(chunk_map{sample_content_id(), {}});
  expect_round_trip(chunk{sample_content_id(), 0, {}});
}

TEST(Messages, CatalogHasDocumentedByteLayout) {
  EXPECT_EQ(encode(sample_catalog()), expected_catalog_payload);
  auto decoded = decode(expected_catalog_payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, message{sample_catalog()});
  EXPECT_EQ(encode(catalog{}), (bytes{0x06, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode(get_catalog{}), (bytes{0x05, 0x01}));
}

TEST(Messages, RequestHasDocumentedByteLayout) {
  EXPECT_EQ(encode(sample_request()), expected_request_payload);
  auto decoded = decode(expected_request_payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, message{sample_request()});
  // The hex dump in docs/protocol.md, "Worked examples".
  EXPECT_EQ(to_hex(encode_frame(encode(sample_request()))),
            "000000260c01000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "03000000");
}

TEST(Messages, ChunkHasDocumentedByteLayout) {
  EXPECT_EQ(encode(sample_chunk()), expected_chunk_payload);
  auto decoded = decode(expected_chunk_payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, message{sample_chunk()});
  EXPECT_EQ(to_hex(encode_frame(encode(sample_chunk()))),
            "000000330d01000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "03000000050000000000000068656c6c6f");
}

TEST(Messages, ChunkHeadFollowedByTheDataIsTheChunksFrame) {
  const auto c = sample_chunk();
  auto streamed = encode_frame_head({c.id, c.index, static_cast<std::uint32_t>(c.data.size())});
  EXPECT_EQ(streamed.size(), 4u + 46u);  // frame length, then the payload up to the data
  streamed.insert(streamed.end(), c.data.begin(), c.data.end());
  EXPECT_EQ(streamed, encode_frame(encode(c)));
}

TEST(Messages, ChunkDecodedInPlaceKeepsThePayloadBuffer) {
  auto payload = expected_chunk_payload;
  const auto* buffer = payload.data();
  auto decoded = decode(std::move(payload));
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, message{sample_chunk()});
  EXPECT_EQ(std::get<chunk>(*decoded).data.data(), buffer);  // no copy
}

TEST(Messages, InPlaceDecoderRefusesWhatTheCopyingOneRefuses) {
  auto truncated = expected_chunk_payload;
  truncated.pop_back();
  auto trailing = expected_chunk_payload;
  trailing.push_back(0);
  for (const auto& payload : {truncated, trailing, bytes{0x0d}, bytes{0x0d, 0x00}}) {
    const auto copied = decode(std::span<const std::uint8_t>(payload));
    const auto in_place = decode(bytes(payload));
    ASSERT_FALSE(copied.ok());
    ASSERT_FALSE(in_place.ok());
    EXPECT_EQ(in_place.error_message(), copied.error_message());
  }
}

TEST(Messages, IdAndIndexMessagesShareOneLayout) {
  // have, request, reject, cancel: type, flag, 32-byte id, u32 index.
  for (const message& m :
       {message{have{sample_content_id(), 3}}, message{sample_request()},
        message{reject{sample_content_id(), 3}}, message{cancel{sample_content_id(), 3}}}) {
    auto encoded = encode(m);
    ASSERT_EQ(encoded.size(), expected_request_payload.size()) << type_name(m);
    EXPECT_TRUE(
        std::equal(encoded.begin() + 1, encoded.end(), expected_request_payload.begin() + 1))
        << type_name(m);
  }
  // get_manifest and get_chunk_map: type, flag, 32-byte id.
  EXPECT_EQ(encode(get_manifest{sample_content_id()}).size(), 34u);
  EXPECT_EQ(encode(get_chunk_map{sample_content_id()}).size(), 34u);
}

catalog_entry entry(std::string name, std::uint64_t size = 1) {
  return catalog_entry{sample_content_id(), std::move(name), size, true};
}

TEST(Messages, AcceptsMaximumCatalogEntryCount) {
  catalog c;
  c.entries.assign(max_catalog_entries, entry("f"));
  expect_round_trip(c);
}

TEST(Messages, RejectsCatalogEntryCountOneOverMaximum) {
  catalog c;
  c.entries.assign(max_catalog_entries + 1, entry("f"));
  expect_limit_error(encode(c));
}

TEST(Messages, LargestCatalogFitsInOneFrame) {
  catalog c;
  c.entries.assign(max_catalog_entries,
                   entry(std::string(max_file_name_bytes, 'n'), max_file_bytes));
  const auto encoded = encode(c);
  EXPECT_LE(encoded.size(), max_frame_bytes);
  expect_round_trip(c);
}

TEST(Messages, AcceptsCatalogNameOfMaximumLength) {
  expect_round_trip(catalog{{entry(std::string(max_file_name_bytes, 'n'))}});
}

TEST(Messages, RejectsCatalogNameOneByteOverMaximum) {
  expect_limit_error(encode(catalog{{entry(std::string(max_file_name_bytes + 1, 'n'))}}));
}

TEST(Messages, RejectsCatalogEntryWithUnsafeName) {
  for (const std::string& name :
       std::vector<std::string>{"../../x", "/etc/x", "a/../../b", "", ".", "..", "a\nb", "a\\b",
                                std::string("a\0b", 3)}) {
    auto r = decode(encode(catalog{{entry("ok.txt"), entry(name)}}));
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_PRED2(contains, r.error_message(), "unsafe file name");
  }
}

TEST(Messages, AcceptsCatalogSizeOfMaximum) {
  expect_round_trip(catalog{{entry("big", max_file_bytes)}});
}

TEST(Messages, RejectsCatalogSizeOneOverMaximum) {
  expect_limit_error(encode(catalog{{entry("big", max_file_bytes + 1)}}));
  expect_limit_error(encode(catalog{{entry("big", std::numeric_limits<std::uint64_t>::max())}}));
}

TEST(Messages, RejectsCatalogFlagsBeyondCompleteAndFolder) {
  bytes payload = expected_catalog_payload;
  for (std::uint8_t flag : {0, 1, 2, 3}) {
    payload.back() = flag;
    const auto r = decode(payload);
    ASSERT_TRUE(r.ok()) << int{flag};
    const auto& e = std::get<catalog>(*r).entries.at(0);
    EXPECT_EQ(e.complete, (flag & 1) != 0);
    EXPECT_EQ(e.folder, (flag & 2) != 0);
  }
  for (std::uint8_t flag : {4, 0x7f, 0xff}) {
    payload.back() = flag;
    auto r = decode(payload);
    ASSERT_FALSE(r.ok()) << int{flag};
    EXPECT_PRED2(contains, r.error_message(), "0 to 3");
  }
}

TEST(Messages, AcceptsManifestDataOfMaximumLength) {
  expect_round_trip(manifest_data{sample_content_id(), bytes(max_manifest_data_bytes, 0xab)});
}

TEST(Messages, RejectsManifestDataOneByteOverMaximum) {
  expect_limit_error(
      encode(manifest_data{sample_content_id(), bytes(max_manifest_data_bytes + 1)}));
}

TEST(Messages, AcceptsChunkMapOfMaximumLength) {
  static_assert(max_chunks / 8 == 4096);
  expect_round_trip(chunk_map{sample_content_id(), bytes(max_chunks / 8, 0xff)});
}

TEST(Messages, RejectsChunkMapOneByteOverMaximum) {
  expect_limit_error(encode(chunk_map{sample_content_id(), bytes(max_chunks / 8 + 1)}));
}

TEST(Messages, AcceptsChunkOfMaximumLengthAndItFitsInOneFrame) {
  const chunk c{sample_content_id(), 0xffffffff, bytes(max_chunk_bytes, 0x5a)};
  const auto encoded = encode(c);
  EXPECT_LE(encoded.size(), max_frame_bytes);
  // Through the frame decoder too, as a node receives it.
  frame_decoder d;
  d.feed(encode_frame(encoded));
  auto frame = d.next();
  ASSERT_TRUE(frame.ok()) << frame.error_message();
  ASSERT_TRUE(frame->has_value());
  auto decoded = decode(**frame);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, message{c});
}

TEST(Messages, RejectsChunkOneByteOverMaximum) {
  expect_limit_error(encode(chunk{sample_content_id(), 0, bytes(max_chunk_bytes + 1)}));
}

TEST(Messages, RejectsHugeTransferSizeTagsWithoutAllocating) {
  // Offsets of the size tags: after type, flag (and id, index where present).
  const std::vector<std::pair<bytes, std::size_t>> tags = {
      {expected_catalog_payload, 2},                                // entry count
      {expected_catalog_payload, 2 + 8 + 32},                       // entry name length
      {encode(manifest_data{sample_content_id(), {1, 2, 3}}), 34},  // manifest length
      {encode(chunk_map{sample_content_id(), {0xff}}), 34},         // chunk map length
      {expected_chunk_payload, 38},                                 // chunk length
  };
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  for (const auto& [payload, offset] : tags) {
    for (std::uint64_t n : {std::uint64_t{1} << 32, std::uint64_t{1} << 40,
                            std::numeric_limits<std::uint64_t>::max()}) {
      expect_limit_error(with_size_tag(payload, offset, n));
    }
  }
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024);
}

TEST(Messages, IndexCoversTheWholeU32Range) {
  for (std::uint32_t index : {0u, 1u, 32767u, 0xffffffffu}) {
    expect_round_trip(have{sample_content_id(), index});
    expect_round_trip(chunk{sample_content_id(), index, {1}});
  }
}

TEST(NodeId, HexRoundTrips) {
  const auto hex = to_hex(sample_id());
  EXPECT_EQ(hex, "00112233445566778899aabbccddeeff");
  auto id = node_id_from_hex(hex);
  ASSERT_TRUE(id.ok()) << id.error_message();
  EXPECT_EQ(*id, sample_id());
}

TEST(NodeId, RejectsMalformedHex) {
  EXPECT_FALSE(node_id_from_hex("").ok());
  EXPECT_FALSE(node_id_from_hex("00112233445566778899aabbccddeef").ok());    // 31 digits
  EXPECT_FALSE(node_id_from_hex("00112233445566778899aabbccddeeff0").ok());  // 33 digits
  EXPECT_FALSE(node_id_from_hex("00112233445566778899AABBCCDDEEFF").ok());   // uppercase
  EXPECT_FALSE(node_id_from_hex("0011223344556677889xaabbccddeeff").ok());
}

// Anything decode() accepts is canonical: re-encoding gives the same bytes.
// Returns whether it decoded.
bool expect_decodes_canonically_or_fails(const bytes& payload) {
  auto r = decode(payload);
  if (r.ok()) {
    EXPECT_EQ(encode(*r), payload) << to_hex(payload);
  } else {
    EXPECT_FALSE(r.error_message().empty());
  }
  return r.ok();
}

TEST(MessagesFuzz, RandomPayloadsNeverCrash) {
  std::mt19937 rng(7070);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 64);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    bytes payload(length(rng));
    for (auto& b : payload)
      b = static_cast<std::uint8_t>(byte(rng));
    // Half the time, make the header plausible so the fields get exercised.
    if (i % 2 == 0 && payload.size() >= 2) {
      payload[0] = static_cast<std::uint8_t>(1 + (i / 2) % std::variant_size_v<message>);
      payload[1] = 1;
    }
    if (expect_decodes_canonically_or_fails(payload)) ++decoded;
  }
  EXPECT_GT(decoded, 0);  // the loop reaches past the header checks
}

TEST(MessagesFuzz, MutatedValidEncodingsNeverCrash) {
  std::mt19937 rng(8080);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<bytes> seeds = every_message_encoding();
  seeds.push_back(encode(peers{}));
  seeds.push_back(encode(catalog{}));
  seeds.push_back(encode(chunk{}));
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    bytes payload = seeds[static_cast<std::size_t>(i) % seeds.size()];
    const int mutations = 1 + i % 4;
    for (int m = 0; m < mutations; ++m) {
      std::uniform_int_distribution<std::size_t> pos(0, payload.size());
      const auto at = pos(rng);
      switch (byte(rng) % 4) {
        case 0:  // flip a byte
          if (at < payload.size()) payload[at] = static_cast<std::uint8_t>(byte(rng));
          break;
        case 1:  // insert a byte
          payload.insert(payload.begin() + static_cast<std::ptrdiff_t>(at),
                         static_cast<std::uint8_t>(byte(rng)));
          break;
        case 2:  // erase a byte
          if (at < payload.size()) payload.erase(payload.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        default:  // cut the tail
          payload.resize(at);
          break;
      }
    }
    if (expect_decodes_canonically_or_fails(payload)) ++decoded;
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace peerlab::protocol

namespace peerlab::protocol {
namespace {

TEST(PrintableName, ReplacesControlCharactersThatCouldForgeLogLines) {
  EXPECT_EQ(printable_name("bob\n2026 info  fake\x1b[31m"), "bob?2026 info  fake?[31m");
  EXPECT_EQ(printable_name("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(PrintableName, CutsAtTheLimitOnACharacterBoundary) {
  const std::string long_ascii(100, 'a');
  EXPECT_EQ(printable_name(long_ascii).size(), max_name_bytes);
  // 63 ASCII bytes then a 2-byte character: cutting at 64 would split it.
  const std::string split = std::string(63, 'a') + "\xc3\xa9" + "zz";
  EXPECT_EQ(printable_name(split), std::string(63, 'a'));
}

}  // namespace
}  // namespace peerlab::protocol

// The BitTorrent peer wire: byte layouts pinned (docs/bittorrent.md shows
// them), the decoder's good / bad / need more for any split of the stream,
// limits checked before anything is kept, and the BEP 9/10 dictionaries.

#include "protocol/bt_wire.hpp"

#include <gtest/gtest.h>

#include "protocol/bencode.hpp"
#include "protocol/bt_extension.hpp"
#include "protocol/bt_wire_decoder.hpp"
#include "protocol/frame.hpp"
#include "protocol/hex.hpp"
#include "protocol/messages.hpp"
#include "test_data.hpp"

namespace peerlab::protocol::bt {
namespace {

handshake example_handshake() {
  handshake h;
  for (std::size_t i = 0; i < 20; ++i)
    h.info_hash[i] = static_cast<std::uint8_t>(i);
  const std::string_view id = "-PL0001-abcdefghijkl";
  std::copy(id.begin(), id.end(), h.id.begin());
  h.set_extension_protocol();
  h.set_fast();
  return h;
}

// Feeds `stream` in pieces of `step` bytes and collects every message.
std::vector<message> decode_all(std::span<const std::uint8_t> stream, std::size_t step,
                                bool expect_handshake = false) {
  wire_decoder d(expect_handshake);
  std::vector<message> out;
  for (std::size_t at = 0; at < stream.size(); at += step) {
    d.feed(stream.subspan(at, std::min(step, stream.size() - at)));
    while (true) {
      auto m = d.next();
      EXPECT_TRUE(m.ok()) << m.error_message();
      if (!m.ok() || !*m) break;
      out.push_back(std::move(**m));
    }
  }
  return out;
}

TEST(BtWire, HandshakeBytesAsDocumented) {
  const auto bytes = encode_handshake(example_handshake());
  EXPECT_EQ(to_hex(bytes),
            "13426974546f7272656e742070726f746f636f6c"    // \x13 "BitTorrent protocol"
            "0000000000100004"                            // reserved: extensions, fast
            "000102030405060708090a0b0c0d0e0f10111213"    // info-hash
            "2d504c303030312d6162636465666768696a6b6c");  // peer id "-PL0001-abcdefghijkl"
  const auto back = decode_handshake(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, example_handshake());
  EXPECT_TRUE(back->extension_protocol());
  EXPECT_TRUE(back->fast());
  EXPECT_FALSE(back->v2_upgrade());
  EXPECT_FALSE(back->dht());
}

TEST(BtWire, RequestBytesAsDocumented) {
  EXPECT_EQ(to_hex(encode(request{3, 0, 16384})), "0000000d06000000030000000000004000");
  EXPECT_EQ(to_hex(encode(keepalive{})), "00000000");
  EXPECT_EQ(to_hex(encode(interested{})), "0000000102");
  EXPECT_EQ(to_hex(encode(have{7})), "000000050400000007");
  EXPECT_EQ(to_hex(encode(port{6881})), "00000003091ae1");
  EXPECT_EQ(to_hex(encode(have_all{})), "000000010e");
  EXPECT_EQ(to_hex(encode(extended{0, {'d', 'e'}})),
            "000000041400"
            "6465");
}

TEST(BtWire, PieceHeadPlusDataIsThePieceMessage) {
  const std::vector<std::uint8_t> data = {'h', 'e', 'l', 'l', 'o'};
  const auto head = encode_piece_head(3, 16384, 5);
  EXPECT_EQ(to_hex(head),
            "0000000e07"
            "00000003"
            "00004000");
  std::vector<std::uint8_t> joined(head.begin(), head.end());
  joined.insert(joined.end(), data.begin(), data.end());
  EXPECT_EQ(joined, encode(piece{3, 16384, data}));
}

TEST(BtWire, EveryMessageRoundTripsWhateverTheSplit) {
  const sha256_digest root = sha256_of(std::vector<std::uint8_t>{1, 2, 3});
  const std::vector<message> all = {example_handshake(),
                                    keepalive{},
                                    choke{},
                                    unchoke{},
                                    interested{},
                                    not_interested{},
                                    have{5},
                                    bitfield{{0xff, 0x80}},
                                    request{1, 16384, 16384},
                                    piece{1, 16384, std::vector<std::uint8_t>(16384, 0xab)},
                                    cancel{1, 16384, 16384},
                                    port{6881},
                                    suggest{2},
                                    have_all{},
                                    have_none{},
                                    reject_request{1, 0, 16384},
                                    allowed_fast{9},
                                    extended{1, {'d', 'e'}},
                                    hash_request{root, 0, 0, 512, 3},
                                    hashes{root, 2, 4, 2, 1, {root, root, root}},
                                    hash_reject{root, 0, 0, 512, 3}};
  std::vector<std::uint8_t> stream;
  for (const auto& m : all) {
    const auto bytes = encode(m);
    stream.insert(stream.end(), bytes.begin(), bytes.end());
  }
  for (const std::size_t step :
       {stream.size(), std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
    EXPECT_EQ(decode_all(stream, step, true), all) << step;
  }
}

TEST(BtWire, ABlockIsReceivedIntoItsOwnBufferInPlace) {
  const std::vector<std::uint8_t> data(16384, 0x5a);
  const auto bytes = encode(piece{4, 0, data});
  wire_decoder d(false);
  d.feed(std::span(bytes).first(20));  // the head and 7 bytes of data
  auto m = d.next();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(*m);
  auto window = d.direct_space();
  ASSERT_EQ(window.size(), 16384u - 7);
  std::copy(bytes.begin() + 20, bytes.end(), window.begin());
  d.commit_direct(window.size());
  EXPECT_TRUE(d.direct_space().empty());
  m = d.next();
  ASSERT_TRUE(m.ok() && *m);
  EXPECT_EQ(std::get<piece>(**m), (piece{4, 0, data}));
}

TEST(BtWire, RefusesARequestAbove128KiBAndOfZeroBytes) {
  for (const std::uint32_t length : {128u * 1024 + 1, 1024u * 1024, 0u}) {
    const auto bytes = encode(request{0, 0, length});
    wire_decoder d(false);
    d.feed(bytes);
    const auto m = d.next();
    EXPECT_FALSE(m.ok()) << length;
    EXPECT_TRUE(d.failed());
  }
  wire_decoder d(false);
  d.feed(encode(request{0, 0, 128 * 1024}));
  EXPECT_TRUE(d.next().ok());
}

TEST(BtWire, RefusesLengthsAboveTheLimitBeforeKeepingTheBody) {
  // A header claiming a 4 GiB bitfield, a 1 MiB block, a 2-byte choke.
  for (const auto& head :
       {std::vector<std::uint8_t>{0xff, 0xff, 0xff, 0xff, 5},
        std::vector<std::uint8_t>{0x00, 0x10, 0x00, 0x09, 7, 0, 0, 0, 0},
        std::vector<std::uint8_t>{0, 0, 0, 2, 0}, std::vector<std::uint8_t>{0, 0, 0, 14, 6},
        std::vector<std::uint8_t>{0, 0, 0, 50, 22}, std::vector<std::uint8_t>{0, 0, 0, 1, 20}}) {
    wire_decoder d(false);
    d.feed(head);
    const auto m = d.next();
    EXPECT_FALSE(m.ok()) << to_hex(head);
    EXPECT_EQ(d.buffered_bytes(), 0u);
    EXPECT_FALSE(d.next().ok());  // stays failed
  }
}

TEST(BtWire, SkipsUnknownMessagesWithoutKeepingThem) {
  std::vector<std::uint8_t> stream = {0, 0, 0, 3, 99, 'x', 'y'};
  const auto have_bytes = encode(have{1});
  stream.insert(stream.end(), have_bytes.begin(), have_bytes.end());
  const auto got = decode_all(stream, 1);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<unknown>(got[0]), (unknown{99, 3}));
  EXPECT_EQ(std::get<have>(got[1]), have{1});
}

TEST(BtWire, RefusesAWrongHandshakeAtItsFirstByte) {
  wire_decoder d(true);
  d.feed(std::vector<std::uint8_t>{'G'});
  EXPECT_FALSE(d.next().ok());
  auto bytes = encode_handshake(example_handshake());
  bytes[5] = 'X';
  EXPECT_FALSE(decode_handshake(bytes).ok());
  EXPECT_FALSE(decode_handshake(std::span(bytes).first(67)).ok());
}

TEST(BtWire, ToldApartFromPeerlabByTheFirstBytes) {
  const auto bt = encode_handshake(example_handshake());
  hello h;
  h.name = "alice";
  const auto pl = encode_frame(protocol::encode(protocol::message{h}));
  h.name = std::string(max_name_bytes, 'n');
  const auto pl_long = encode_frame(protocol::encode(protocol::message{h}));
  h.name = "";
  const auto pl_short = encode_frame(protocol::encode(protocol::message{h}));
  EXPECT_EQ(classify_first_bytes({}), first_bytes::need_more);
  for (std::size_t n = 1; n < 20; ++n)
    EXPECT_EQ(classify_first_bytes(std::span(bt).first(n)), first_bytes::need_more) << n;
  EXPECT_EQ(classify_first_bytes(std::span(bt).first(20)), first_bytes::bittorrent);
  EXPECT_EQ(classify_first_bytes(bt), first_bytes::bittorrent);
  for (std::size_t n = 1; n < 10; ++n)
    EXPECT_EQ(classify_first_bytes(std::span(pl).first(n)), first_bytes::need_more) << n;
  EXPECT_EQ(classify_first_bytes(pl), first_bytes::peerlab);
  EXPECT_EQ(classify_first_bytes(pl_long), first_bytes::peerlab);
  EXPECT_EQ(classify_first_bytes(pl_short), first_bytes::peerlab);
  const std::string_view http = "GET / HTTP/1.1\r\n";
  EXPECT_EQ(classify_first_bytes({reinterpret_cast<const std::uint8_t*>(http.data()), http.size()}),
            first_bytes::neither);
  EXPECT_EQ(classify_first_bytes(std::vector<std::uint8_t>{0x13, 'b'}), first_bytes::neither);
  EXPECT_EQ(classify_first_bytes(std::vector<std::uint8_t>{0, 0, 0, 0x10}), first_bytes::neither);
  EXPECT_EQ(classify_first_bytes(std::vector<std::uint8_t>{0, 0, 0, 0x27, 2}),
            first_bytes::neither);
}

TEST(BtExtension, HandshakeRoundTripsWithEveryField) {
  extension_handshake h;
  h.m = {{"ut_metadata", 2}, {"ut_pex", 1}};
  h.client = "peerlab 0.1";
  h.metadata_size = 31337;
  h.reqq = 250;
  h.listen_port = 7070;
  h.yourip = *parse_endpoint("127.0.0.2:0");
  const auto bytes = encode_extension_handshake(h);
  const std::string expected =
      "d1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31337e1:pi7070e4:reqqi250e"
      "1:v11:peerlab 0.16:yourip4:" +
      std::string("\x7f\x00\x00\x02", 4) + "e";
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), expected);
  const auto back = decode_extension_handshake(bytes);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(back->id_of("ut_metadata"), 2);
  EXPECT_EQ(back->id_of("lt_donthave"), 0);
}

TEST(BtExtension, ReadsTheHandshakeLibtorrentSends) {
  // Sent by libtorrent 2.0.8 seeding to us on loopback (it also sent have
  // all, allowed fast, unchoke, a ut_metadata piece whose SHA-1 was the
  // info-hash, and the blocks we asked for; our decoder read them all).
  constexpr std::string_view payload_hex =
      "6431323a636f6d706c6574655f61676f692d3165313a6d6431313a6c745f646f6e746861766569376531303a"
      "73686172655f6d6f646569386531313a75706c6f61645f6f6e6c7969336531323a75745f686f6c6570756e63"
      "6869346531313a75745f6d65746164617461693265363a75745f7065786931656531333a6d65746164617461"
      "5f73697a656933303965343a7265717169323030306531313a75706c6f61645f6f6e6c79693165313a763138"
      "3a6c6962746f7272656e742f322e302e382e30363a796f75726970343a7f00000165";
  std::vector<std::uint8_t> payload(payload_hex.size() / 2);
  ASSERT_TRUE(from_hex(payload_hex, payload));
  const auto h = decode_extension_handshake(payload);
  ASSERT_TRUE(h.ok()) << h.error_message();
  EXPECT_EQ(h->client, "libtorrent/2.0.8.0");
  EXPECT_EQ(h->id_of("ut_metadata"), 2);
  EXPECT_EQ(h->id_of("ut_pex"), 1);
  EXPECT_EQ(h->metadata_size, 309u);
  EXPECT_EQ(h->reqq, 2000u);
  EXPECT_EQ(to_string(*h->yourip), "127.0.0.1:0");
}

TEST(BtExtension, RefusesBombsAndAbsurdMetadataSizes) {
  const auto as_bytes = [](const std::string& s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
  };
  // A bencode bomb: deeply nested lists under an unknown key.
  const std::string bomb = "d1:x" + std::string(10'000, 'l') + std::string(10'000, 'e') + "e";
  EXPECT_FALSE(decode_extension_handshake(as_bytes(bomb)).ok());
  std::string many = "d1:xl";
  for (int i = 0; i < 5000; ++i)
    many += "i1e";
  EXPECT_FALSE(decode_extension_handshake(as_bytes(many + "ee")).ok());
  EXPECT_FALSE(decode_extension_handshake(as_bytes("d13:metadata_sizei99999999999ee")).ok());
  EXPECT_FALSE(decode_extension_handshake(as_bytes("d1:md1:xi300eee")).ok());
  EXPECT_FALSE(decode_extension_handshake(as_bytes("le")).ok());
  EXPECT_TRUE(decode_extension_handshake(as_bytes("d1:pi-5e4:reqqi0e6:yourip3:abce")).ok());
}

TEST(BtExtension, MetadataMessagesAsBep9Shows) {
  const auto request = encode_metadata_message({metadata_type::request, 0, 0, {}});
  EXPECT_EQ(std::string(request.begin(), request.end()), "d8:msg_typei0e5:piecei0ee");
  const std::vector<std::uint8_t> last(100, 'x');
  const metadata_message data{metadata_type::data, 1, 16384 + 100, last};
  const auto bytes = encode_metadata_message(data);
  EXPECT_TRUE(std::string(bytes.begin(), bytes.end())
                  .starts_with("d8:msg_typei1e5:piecei1e10:total_sizei16484eexxx"));
  const auto back = decode_metadata_message(bytes);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, data);
  EXPECT_EQ(metadata_piece_count(16384), 1u);
  EXPECT_EQ(metadata_piece_count(16385), 2u);
}

TEST(BtExtension, RefusesMetadataPiecesOfTheWrongSizeOrPlace) {
  const auto make = [](std::uint32_t piece, std::uint64_t total, std::size_t n) {
    return encode_metadata_message(
        {metadata_type::data, piece, total, std::vector<std::uint8_t>(n, 'x')});
  };
  EXPECT_TRUE(decode_metadata_message(make(0, 20000, 16384)).ok());
  EXPECT_FALSE(decode_metadata_message(make(0, 20000, 100)).ok());    // short
  EXPECT_FALSE(decode_metadata_message(make(1, 20000, 16384)).ok());  // last piece too long
  EXPECT_FALSE(decode_metadata_message(make(2, 20000, 0)).ok());      // beyond the end
  EXPECT_FALSE(decode_metadata_message(make(0, max_metadata_bytes + 1, 16384)).ok());
  const auto request = encode_metadata_message({metadata_type::request, 0, 0, {}});
  auto trailing = request;
  trailing.push_back('x');
  EXPECT_FALSE(decode_metadata_message(trailing).ok());
  EXPECT_FALSE(
      decode_metadata_message(encode_metadata_message({metadata_type::request, 9999, 0, {}}), 16384)
          .ok());
}

}  // namespace
}  // namespace peerlab::protocol::bt

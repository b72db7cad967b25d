// The BitTorrent part of the seed corpus (see seed_corpus.cpp): torrents of
// every format, magnet links, a wire stream with every message, extension
// dictionaries, peer exchange messages, tracker queries and answers, and the
// hostile cases the issues name: a bencode bomb, a 1 MiB block request, paths
// with "..".

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/bencode.hpp"
#include "protocol/bt_extension.hpp"
#include "protocol/bt_pex.hpp"
#include "protocol/bt_wire.hpp"
#include "protocol/torrent.hpp"
#include "protocol/tracker.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::fuzz {

namespace {

using namespace protocol::bt;
namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

fs::path root;

void write(const std::string& target, const std::string& name, const bytes& content) {
  fs::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(content.data()),
             static_cast<std::streamsize>(content.size()));
}

void write(const std::string& target, const std::string& name, std::string_view text) {
  write(target, name, bytes(text.begin(), text.end()));
}

bytes pattern(std::size_t n) {
  bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(i % 251);
  return out;
}

built_torrent small_torrent(torrent_format format) {
  torrent_source s;
  s.name = "notes.txt";
  s.size = 40'000;
  s.piece_length = 16384;
  s.hashes = *hash_file({s.size, s.piece_length}, pattern(s.size));
  s.announce = "http://127.0.0.1:8080/announce";
  return *make_torrent(s, format);
}

const std::string bomb = std::string(5000, 'l') + std::string(5000, 'e');

void bencode_seeds() {
  write("bencode", "integer", "i-42e");
  write("bencode", "string", "4:spam");
  write("bencode", "list", "l4:spami7ee");
  write("bencode", "dict", "d3:cow3:moo4:spaml1:a1:bee");
  write("bencode", "torrent", small_torrent(torrent_format::hybrid).bytes);
  write("bencode", "bomb-nested-lists", bomb);
  write("bencode", "unsorted-keys", "d1:bi1e1:ai2ee");
  write("bencode", "huge-string-length", "4294967296:abc");
  write("bencode", "leading-zero", "li03ee");
}

void torrent_seeds() {
  write("torrent", "v1", small_torrent(torrent_format::v1).bytes);
  write("torrent", "v2", small_torrent(torrent_format::v2).bytes);
  write("torrent", "hybrid", small_torrent(torrent_format::hybrid).bytes);
  const std::string pieces(60, 'x');
  write("torrent", "v1-multi-file",
        "d8:announce3:url4:infod5:filesld6:lengthi10e4:pathl3:dir5:a.txteed6:lengthi5e4:path"
        "l5:b.txteee4:name6:folder12:piece lengthi16384e6:pieces20:" +
            pieces.substr(0, 20) + "ee");
  write("torrent", "v1-dotdot",
        "d4:infod5:filesld6:lengthi1e4:pathl2:..6:passwdeee4:name1:x12:piece lengthi16384e"
        "6:pieces20:" +
            pieces.substr(0, 20) + "ee");
  const std::string root_hash(32, 'r');
  write("torrent", "v2-tree",
        "d4:infod9:file treed3:subd1:xd0:d6:lengthi5e11:pieces root32:" + root_hash +
            "eee1:yd0:d6:lengthi5e11:pieces root32:" + root_hash +
            "eee12:meta versioni2e4:name3:dir12:piece lengthi16384eee");
  write("torrent", "bomb", "d4:info" + bomb + "e");
  const auto t = small_torrent(torrent_format::hybrid);
  write("torrent", "magnet-hybrid",
        make_magnet({t.hashes, "notes.txt", {"udp://t.example:80"}, 40'000}));
  write("torrent", "magnet-base32", "magnet:?xt=urn:btih:S2MSCW4GWJQ5UZZARUAQA73PPIT2O4H3&dn=a+b");
}

void wire_seeds() {
  handshake h;
  h.info_hash = *small_torrent(torrent_format::v1).hashes.v1;
  const std::string_view id = "-PL0001-abcdefghijkl";
  std::copy(id.begin(), id.end(), h.id.begin());
  h.set_extension_protocol();
  h.set_fast();
  const sha256_digest root_hash = sha256_of(pattern(10));
  const std::vector<message> all = {
      h,
      keepalive{},
      choke{},
      unchoke{},
      interested{},
      not_interested{},
      have{5},
      bitfield{{0xff, 0xe0}},
      request{1, 16384, 16384},
      piece{1, 0, pattern(300)},
      cancel{1, 16384, 16384},
      port{6881},
      suggest{2},
      have_all{},
      have_none{},
      reject_request{1, 0, 16384},
      allowed_fast{9},
      extended{0,
               encode_extension_handshake({{{"ut_metadata", 2}}, "peerlab", 1234, 250, 7070, {}})},
      hash_request{root_hash, 0, 0, 4, 2},
      hashes{root_hash, 0, 0, 2, 0, {root_hash, root_hash}},
      hash_reject{root_hash, 0, 0, 4, 2}};
  bytes stream = {1};  // byte 0: expect the handshake, real limits
  for (const auto& m : all) {
    const auto b = encode(m);
    stream.insert(stream.end(), b.begin(), b.end());
  }
  write("bt_wire", "every-message", stream);
  stream[0] = 3;  // the same with small limits: the piece is too long
  write("bt_wire", "every-message-small-limits", stream);
  bytes flood = {0};
  for (int i = 0; i < 50; ++i) {
    const auto b = encode(request{static_cast<std::uint32_t>(i), 0, 16384});
    flood.insert(flood.end(), b.begin(), b.end());
  }
  write("bt_wire", "request-flood", flood);
  bytes big = {0};
  const auto b = encode(request{0, 0, 1024 * 1024});
  big.insert(big.end(), b.begin(), b.end());
  write("bt_wire", "request-1-mib", big);
  write("bt_wire", "unknown-id", bytes{0, 0, 0, 0, 3, 99, 'x', 'y'});
  write("bt_wire", "not-bittorrent", "\x01GET / HTTP/1.1\r\n\r\n");
}

void extension_seeds() {
  extension_handshake e;
  e.m = {{"ut_metadata", 2}, {"ut_pex", 1}};
  e.client = "libtorrent 2.0.8";
  e.metadata_size = 40'000;
  e.reqq = 500;
  e.listen_port = 6881;
  e.yourip = *protocol::parse_endpoint("127.0.0.2:0");
  write("bt_extension", "handshake", encode_extension_handshake(e));
  write("bt_extension", "handshake-bomb", "d1:x" + bomb + "e");
  write("bt_extension", "metadata-request",
        encode_metadata_message({metadata_type::request, 1, 0, {}}));
  write("bt_extension", "metadata-reject",
        encode_metadata_message({metadata_type::reject, 0, 0, {}}));
  write("bt_extension", "metadata-data",
        encode_metadata_message({metadata_type::data, 2, 40'000, pattern(40'000 - 32768)}));
}

void pex_seeds() {
  const auto at = [](std::string_view text) { return *protocol::parse_endpoint(text); };
  pex_message m;
  m.added = {{at("127.0.0.2:6881"), pex_seed | pex_reachable},
             {at("10.0.0.7:51413"), pex_prefers_encryption | pex_utp},
             {at("[2001:db8::7]:6881"), pex_holepunch}};
  m.dropped = {at("127.0.0.3:6881"), at("[::1]:7070")};
  write("bt_pex", "message", encode_pex(m));
  write("bt_pex", "empty", encode_pex({}));
  pex_message full;
  for (std::size_t i = 0; i < max_pex_peers; ++i) {
    auto e = at("10.1.0.0:6881");
    e.ip[2] = static_cast<std::uint8_t>(i >> 8);
    e.ip[3] = static_cast<std::uint8_t>(i);
    full.added.push_back({e, static_cast<std::uint8_t>(i & 0x1f)});
  }
  write("bt_pex", "full", encode_pex(full));
  // Hand-built: added.f shorter than added, an undialable peer, an unknown key.
  write("bt_pex", "short-flags",
        "d5:added18:" +
            std::string("\x7f\x00\x00\x02\x1a\xe1\x00\x00\x00\x00\x1a\xe1"
                        "\x7f\x00\x00\x03\x00\x00",
                        18) +
            "7:added.f1:\x02" + "1:xli1eee");
  write("bt_pex", "odd-length", "d5:added7:1234567e");
  write("bt_pex", "bomb", "d1:x" + bomb + "e");
}

void tracker_seeds() {
  const auto hash = *small_torrent(torrent_format::v1).hashes.v1;
  announce_request a;
  a.info_hash = hash;
  std::fill(a.peer.begin(), a.peer.end(), 'p');
  a.port = 6881;
  a.left = 40'000;
  a.event = announce_event::started;
  a.compact = true;
  a.numwant = 50;
  a.key = "a1b2c3d4";
  write("tracker", "query", make_announce_query(a));
  const auto escaped =
      protocol::percent_encode({reinterpret_cast<const char*>(hash.data()), hash.size()});
  write("tracker", "scrape-query", "info_hash=" + escaped + "&info_hash=" + escaped + "&x=1");
  announce_response r;
  r.min_interval = 60;
  r.complete = 1;
  r.incomplete = 2;
  r.peers.push_back({*protocol::parse_endpoint("127.0.0.2:6881"), std::nullopt});
  r.peers.push_back({*protocol::parse_endpoint("[::1]:7070"), std::nullopt});
  write("tracker", "response-compact", encode_announce_response(r, true));
  r.peers[0].id = a.peer;
  write("tracker", "response-dict", encode_announce_response(r, false));
  announce_response failure;
  failure.failure_reason = "unregistered torrent";
  write("tracker", "response-failure", encode_announce_response(failure, true));
  const auto connect = encode_udp_connect(7);
  write("tracker", "udp-connect-request", bytes(connect.begin(), connect.end()));
  write("tracker", "udp-connect-answer", bytes{0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8});
  write("tracker", "udp-announce-answer", bytes{0, 0, 0, 1, 0, 0, 0, 7,   0, 0, 7, 8,    0,
                                                0, 0, 2, 0, 0, 0, 1, 127, 0, 0, 2, 0x1a, 0xe1});
  write("tracker", "udp-error", bytes{0, 0, 0, 3, 0, 0, 0, 7, 'n', 'o'});
}

}  // namespace

void write_bittorrent_seeds(const std::filesystem::path& out) {
  root = out;
  bencode_seeds();
  torrent_seeds();
  wire_seeds();
  extension_seeds();
  pex_seeds();
  tracker_seeds();
}

}  // namespace peerlab::fuzz

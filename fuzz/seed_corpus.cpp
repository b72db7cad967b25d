// Writes the seed corpus, one directory per target: valid inputs of every
// kind each parser takes (every message type, manifests, pipelined HTTP
// requests, ranges, rates, addresses, beacons) and a few near misses. libFuzzer starts
// from these instead of from nothing. Deterministic; the output is committed:
//   build-fuzz/fuzz_seed_corpus fuzz/corpus

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/beacon.hpp"
#include "protocol/frame.hpp"
#include "protocol/manifest.hpp"
#include "protocol/messages.hpp"

namespace peerlab::fuzz {
void write_bittorrent_seeds(const std::filesystem::path& out);  // seed_corpus_bt.cpp
void write_folder_seeds(const std::filesystem::path& out);      // seed_corpus_folder.cpp
}  // namespace peerlab::fuzz

namespace {

using namespace peerlab::protocol;
namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

fs::path out_dir;

void write(const std::string& target, const std::string& name, const bytes& content) {
  const auto dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(content.data()),
             static_cast<std::streamsize>(content.size()));
}

void write(const std::string& target, const std::string& name, std::string_view text) {
  write(target, name, bytes(text.begin(), text.end()));
}

content_id id_from(std::uint8_t seed) {
  content_id id{};
  for (std::size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<std::uint8_t>(seed + 31 * i);
  return id;
}

manifest make_manifest(std::string name, std::uint64_t size) {
  manifest m;
  m.name = std::move(name);
  m.size = size;
  m.chunk_size = chunk_size_for(size);
  const auto count = (size + m.chunk_size - 1) / m.chunk_size;
  for (std::uint64_t i = 0; i < count; ++i)
    m.chunk_hashes.push_back(id_from(static_cast<std::uint8_t>(i)));
  return m;
}

void manifests() {
  write("manifest", "empty-file", encode_manifest(make_manifest("empty.txt", 0)));
  write("manifest", "one-byte", encode_manifest(make_manifest("a", 1)));
  write("manifest", "three-chunks",
        encode_manifest(make_manifest("lecture notes.pdf", 2 * min_chunk_bytes + 1)));
  write("manifest", "exact-chunks",
        encode_manifest(make_manifest("exact.bin", 4 * std::uint64_t{min_chunk_bytes})));
  write("manifest", "utf8-name", encode_manifest(make_manifest("Übung 3 – 雪.txt", 1000)));
  // 4 MiB chunks (what a file of more than 8 GiB gets), here for a small file.
  auto big = make_manifest("big.iso", 5 * 1024 * 1024);
  big.chunk_size = max_chunk_bytes;
  big.chunk_hashes.resize(2);
  write("manifest", "big-chunks", encode_manifest(big));
}

void messages() {
  hello h;
  h.id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  h.listen_port = 7070;
  h.name = "alice";
  write("messages", "01-hello", encode(h));
  h.name = "Jürgen's laptop ☕";
  write("messages", "01-hello-utf8", encode(h));
  write("messages", "02-get-peers", encode(get_peers{}));
  peers p;
  p.addresses.push_back(*parse_endpoint("127.0.0.2:7070"));
  p.addresses.push_back(*parse_endpoint("[::1]:7071"));
  p.addresses.push_back(*parse_endpoint("[::ffff:10.0.0.1]:65535"));
  write("messages", "03-peers", encode(p));
  write("messages", "03-peers-none", encode(peers{}));
  write("messages", "04-keepalive", encode(keepalive{}));
  write("messages", "05-get-catalog", encode(get_catalog{}));
  catalog c;
  c.entries.push_back({id_from(1), "lecture.pdf", 1234567, true});
  c.entries.push_back({id_from(2), "video.mp4", max_file_bytes, false});
  write("messages", "06-catalog", encode(c));
  write("messages", "07-get-manifest", encode(get_manifest{id_from(3)}));
  const auto m = encode_manifest(make_manifest("lecture.pdf", 3 * min_chunk_bytes));
  write("messages", "08-manifest-data", encode(manifest_data{id_of_encoded(m), m}));
  write("messages", "08-manifest-data-none", encode(manifest_data{id_from(4), {}}));
  write("messages", "09-get-chunk-map", encode(get_chunk_map{id_from(5)}));
  write("messages", "10-chunk-map", encode(chunk_map{id_from(6), {0xff, 0x80, 0x01}}));
  write("messages", "11-have", encode(have{id_from(7), 12}));
  write("messages", "12-request", encode(request{id_from(8), 0}));
  write("messages", "13-chunk", encode(chunk{id_from(9), 3, bytes(100, 0xab)}));
  write("messages", "14-reject", encode(reject{id_from(10), 4294967295u}));
  write("messages", "15-cancel", encode(cancel{id_from(11), 1}));
}

void frames() {
  // Byte 0 picks the decoder's maximum (255: max_frame_bytes); then the stream.
  const auto stream = [](std::uint8_t max, std::initializer_list<bytes> payloads,
                         const bytes& tail = {}) {
    bytes out{max};
    for (const auto& p : payloads) {
      const auto f = encode_frame(p);
      out.insert(out.end(), f.begin(), f.end());
    }
    out.insert(out.end(), tail.begin(), tail.end());
    return out;
  };
  write("frame", "hello-keepalive", stream(255, {encode(hello{}), encode(keepalive{})}));
  write("frame", "empty-frames", stream(0, {{}, {}, {}}));
  write("frame", "at-the-limit", stream(16, {bytes(16, 1), bytes(15, 2), bytes(1, 3)}));
  write("frame", "above-the-limit", stream(8, {bytes(3, 1), bytes(9, 2)}));
  write("frame", "partial-header", stream(255, {bytes(5, 7)}, {0, 0}));
  write("frame", "partial-payload", stream(64, {bytes(2, 7)}, {0, 0, 0, 40, 1, 2, 3}));
  write("frame", "huge-length", stream(255, {}, {0xff, 0xff, 0xff, 0xff, 0}));
}

void endpoints() {
  const char* texts[] = {"127.0.0.1:7070",
                         "[::1]:8080",
                         "0.0.0.0:0",
                         "255.255.255.255:1",
                         "[::ffff:10.0.0.1]:65535",
                         "[fe80::1:2:3]:443",
                         "224.0.0.1:5353",
                         "[ff02::1]:9",
                         "10.0.0.1:65536",
                         "[::1]",
                         "1.2.3.4:"};
  int i = 0;
  for (const auto* text : texts)
    write("endpoint", "text-" + std::to_string(i++), text);
  // 19 raw bytes: family (even: IPv4), 16 address bytes, port (big-endian).
  write("endpoint", "raw-v4",
        bytes{0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1b, 0x9e});
  write("endpoint", "raw-v6",
        bytes{1, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1f, 0x90});
}

void http_requests() {
  const std::string id = to_hex(id_from(1));
  write("request_parser", "get",
        "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n");
  write("request_parser", "head-http10", "HEAD /files/" + id + " HTTP/1.0\r\n\r\n");
  write("request_parser", "range",
        "GET /files/" + id +
            "/notes.pdf HTTP/1.1\r\nHost: localhost:8080\r\n"
            "Range: bytes=0-1023\r\nIf-Range: \"" +
            id + "\"\r\nConnection: keep-alive\r\n\r\n");
  write("request_parser", "post-body",
        "POST /api/share HTTP/1.1\r\nHost: lab-pc:8080\r\nOrigin: http://lab-pc:8080\r\n"
        "Authorization: Bearer 0123456789abcdef\r\nContent-Type: application/json\r\n"
        "Content-Length: 13\r\n\r\n{\"path\":\"/a\"}");
  write("request_parser", "pipelined",
        "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"
        "POST /api/get HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 2\r\n\r\n{}"
        "GET /api/peers?x=1 HTTP/1.1\r\nHost: localhost.\r\nConnection: close\r\n\r\n");
  write("request_parser", "cross-site-post",
        "POST /api/get HTTP/1.1\r\nHost: 127.0.0.2:8080\r\nOrigin: http://evil.example\r\n"
        "Content-Length: 0\r\n\r\n");
  write("request_parser", "rebinding", "GET /api/status HTTP/1.1\r\nHost: evil.example\r\n\r\n");
  write("request_parser", "lan-address",
        "GET /api/files HTTP/1.1\r\nHost: 192.168.1.5:8080\r\n\r\n"
        "GET /api/files HTTP/1.1\r\nHost: 192.168.1.6:8080\r\n\r\n");
  write(
      "request_parser", "chunked",
      "POST /api/share HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  write("request_parser", "smuggling",
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
  write("request_parser", "folded", "GET / HTTP/1.1\r\nHost: localhost\r\n X: y\r\n\r\n");
  write("request_parser", "http2", "GET / HTTP/2.0\r\nHost: localhost\r\n\r\n");
  write("request_parser", "no-host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
  write("request_parser", "big-body",
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999\r\n\r\n");
  write("request_parser", "partial", "GET /api/status HTTP/1.1\r\nHost: loc");
}

void ranges() {
  const char* headers[] = {"bytes=0-499",
                           "bytes=500-",
                           "bytes=-500",
                           "bytes=0-0",
                           "BYTES = 1-2 ",
                           "bytes=0-1,4-5",
                           "items=0-1",
                           "bytes=5-4",
                           "bytes=-0",
                           "bytes=18446744073709551615-",
                           "bytes=99999999999999999999999-",
                           "bytes=-99999999999999999999999",
                           "bytes=1000-2000",
                           "bytes=0x10-"};
  int i = 0;
  for (const auto* header : headers)
    write("range", "header-" + std::to_string(i++), header);
}

void rates() {
  const char* texts[] = {"0",
                         "1000",
                         "500KiB",
                         "8MiB",
                         "1.5GiB",
                         "500KB",
                         "8MB",
                         "1GB",
                         "0.1KiB",
                         "0.001KB",
                         "1.0000000001GiB",
                         "9223372036854775808",
                         "8589934592GiB",
                         "8589934592.5GiB",
                         "-5MiB",
                         "8Mb",
                         "1.5",
                         "0.0000000001GiB"};
  int i = 0;
  for (const auto* text : texts)
    write("rate", "rate-" + std::to_string(i++), text);
}

void beacons() {
  beacon b;
  b.id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  b.port = 7070;
  write("beacon", "valid", encode_beacon(b));
  b.port = 65535;
  write("beacon", "highest-port", encode_beacon(b));
  write("beacon", "any-case-extra-header",
        "PEERLAB-BEACON 1\r\nport:1\r\nX-Later: y\r\nID: "
        "0102030405060708090a0b0c0d0e0f10\r\n\r\n");
  write("beacon", "version-2",
        "PEERLAB-BEACON 2\r\nId: 0102030405060708090a0b0c0d0e0f10\r\nPort: 7070\r\n\r\n");
  write("beacon", "bep14-search",
        "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: "
        "0102030405060708090a0b0c0d0e0f1011121314\r\n\r\n\r\n");
  write("beacon", "two-ids",
        "PEERLAB-BEACON 1\r\nId: 0102030405060708090a0b0c0d0e0f10\r\nId: "
        "0102030405060708090a0b0c0d0e0f10\r\nPort: 1\r\n\r\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_corpus DIR\n");
    return 2;
  }
  out_dir = argv[1];
  manifests();
  messages();
  frames();
  endpoints();
  http_requests();
  ranges();
  rates();
  peerlab::fuzz::write_bittorrent_seeds(out_dir);
  peerlab::fuzz::write_folder_seeds(out_dir);
  beacons();
  return 0;
}

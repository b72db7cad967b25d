// The fuzz targets (fuzz/) replayed over their seed corpora and over every
// input a fuzzer once found (fuzz/regressions): in the normal and the
// sanitizer builds too, so a parser regression fails ctest, not only
// scripts/fuzz. A broken check aborts and names the input file.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "peer/rate.hpp"
#include "protocol/endpoint.hpp"
#include "protocol/manifest.hpp"
#include "protocol/messages.hpp"

namespace peerlab::fuzz {
namespace {

namespace fs = std::filesystem;

// Runs `target` on every file of fuzz/corpus/NAME and fuzz/regressions/NAME.
void replay(const std::string& name, int (*target)(const std::uint8_t*, std::size_t)) {
  std::size_t inputs = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(PEERLAB_FUZZ_DIR) / kind / name;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
      const auto path = entry.path().string();
      current_input = path.c_str();
      EXPECT_EQ(target(bytes.data(), bytes.size()), 0) << path;
      current_input = nullptr;
      ++inputs;
    }
  }
  EXPECT_GT(inputs, 0u) << "no inputs for fuzz target " << name;
}

TEST(FuzzReplay, FrameDecoder) {
  replay("frame", fuzz_frame);
}
TEST(FuzzReplay, MessageDecoder) {
  replay("messages", fuzz_messages);
}
TEST(FuzzReplay, ManifestDecoder) {
  replay("manifest", fuzz_manifest);
}
TEST(FuzzReplay, FolderManifestDecoder) {
  replay("folder", fuzz_folder);
}
TEST(FuzzReplay, EndpointParser) {
  replay("endpoint", fuzz_endpoint);
}
TEST(FuzzReplay, HttpRequestParser) {
  replay("request_parser", fuzz_request_parser);
}
TEST(FuzzReplay, RangeParser) {
  replay("range", fuzz_range);
}
TEST(FuzzReplay, RateParser) {
  replay("rate", fuzz_rate);
}
TEST(FuzzReplay, BeaconParser) {
  replay("beacon", fuzz_beacon);
}

// What the fuzzers found, pinned down as behaviour.

TEST(FuzzFindings, EndpointWithNulInsideTheAddressIsRejected) {
  // inet_pton stopped at the NUL and read "[::\0...]:30272" as [::]:30272.
  using namespace std::string_view_literals;
  for (const auto text : {"[::\0:1]:30272"sv, "127.0.0.1\0.5:80"sv, "[::1\0]:80"sv})
    EXPECT_FALSE(protocol::parse_endpoint(text).ok());
}

TEST(FuzzFindings, RateFractionsRoundExactlyPastTheNinthDigit) {
  // 0.0000004001 GiB is 429.604 bytes; cutting after nine digits made it 429.
  EXPECT_EQ(*peer::parse_rate("0.0000004001GiB"), 430u);
  EXPECT_EQ(*peer::parse_rate("1.0000000005GB"), 1'000'000'001u);  // a half rounds up
  EXPECT_EQ(*peer::parse_rate("1.00000000049999999999999GB"), 1'000'000'000u);
  EXPECT_EQ(*peer::parse_rate("0.0000000004656612873077392578125GiB"), 1u);     // 2^-31 GiB: 0.5 B
  EXPECT_FALSE(peer::parse_rate("0.0000000004656612873077392578124GiB").ok());  // under 0.5 B
}

TEST(FuzzFindings, LengthBeyondThePayloadIsRefusedBeforeAllocating) {
  // An 85-byte chunk message claimed 3 MiB of data: the decoder allocated and
  // zeroed all of it before finding the payload short. Now the length is
  // checked against the bytes left first.
  auto payload = protocol::encode(protocol::chunk{{}, 7, {}});
  const std::size_t size_tag = payload.size() - 8;
  const std::uint64_t claimed = protocol::max_chunk_bytes;
  for (int i = 0; i < 8; ++i)
    payload[size_tag + i] = static_cast<std::uint8_t>(claimed >> (8 * i));
  payload.insert(payload.end(), 40, 0xab);
  const auto decoded = protocol::decode(payload);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error_message().find("only 40 bytes left"), std::string::npos)
      << decoded.error_message();
}

TEST(FuzzFindings, ManifestClaimingMoreChunksThanItHoldsIsRefusedBeforeAllocating) {
  // 38 bytes claimed 32768 chunk hashes (8 GiB of 256 KiB chunks): 1 MiB
  // was allocated before the hashes turned out to be missing.
  protocol::manifest m;
  m.name = "a";
  m.size = std::uint64_t{protocol::max_chunks} * protocol::min_chunk_bytes;
  m.chunk_hashes.resize(protocol::max_chunks);
  const auto full = protocol::encode_manifest(m);
  const auto missing = static_cast<std::ptrdiff_t>(32 * (protocol::max_chunks - 2));
  const std::vector<std::uint8_t> bytes(full.begin(), full.end() - missing);  // 2 hashes left
  const auto decoded = protocol::decode_manifest(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error_message().find("only 64 bytes left"), std::string::npos)
      << decoded.error_message();
}

}  // namespace
}  // namespace peerlab::fuzz

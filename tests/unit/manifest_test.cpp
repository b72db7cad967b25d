// Manifests and content ids. The byte-layout test pins the manifest format
// that docs/protocol.md documents (the content id is the SHA-256 of exactly
// these bytes); the rest prove that decode_manifest() refuses anything that
// could name a file outside the download directory, lie about its chunks, or
// make the receiver allocate more than the limits allow.

#include "protocol/manifest.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "protocol/hex.hpp"
#include "test_data.hpp"

namespace peerlab::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

bytes of(std::string_view s) {
  return bytes(s.begin(), s.end());
}

sha256_digest counting_digest(std::uint8_t first) {
  sha256_digest d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<std::uint8_t>(first + i);
  return d;
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

// A valid manifest of `size` bytes with made-up chunk hashes.
manifest sample_manifest(std::uint64_t size = 300 * KiB, std::string name = "notes.txt") {
  manifest m;
  m.name = std::move(name);
  m.size = size;
  m.chunk_size = chunk_size_for(size);
  for (std::uint64_t i = 0; i < ceil_div(size, m.chunk_size); ++i)
    m.chunk_hashes.push_back(counting_digest(static_cast<std::uint8_t>(i * 32)));
  return m;
}

// The documented encoding (docs/protocol.md, "Manifest").
manifest small_manifest() {
  manifest m;
  m.name = "a.txt";
  m.size = 5;
  m.chunk_size = 256 * 1024;
  m.chunk_hashes = {counting_digest(0)};
  return m;
}

const bytes expected_small_manifest = {
    0x01,                                            // endianness flag: little
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // name length 5
    'a',  '.',  't',  'x',  't',                     // name
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // size 5
    0x00, 0x00, 0x04, 0x00,                          // chunk_size 262144
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // chunk count 1
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,  // SHA-256 of chunk 0
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,  //
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,  //
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,  //
};

// Offsets in an encoding whose name is n bytes long.
std::size_t size_offset(std::size_t n) {
  return 1 + 8 + n;
}
std::size_t chunk_size_offset(std::size_t n) {
  return size_offset(n) + 8;
}
std::size_t count_offset(std::size_t n) {
  return chunk_size_offset(n) + 4;
}

bytes with_u64(bytes b, std::size_t offset, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    b[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
  return b;
}

bytes with_u32(bytes b, std::size_t offset, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
  return b;
}

void expect_rejected(const bytes& encoded, const std::string& reason) {
  auto r = decode_manifest(encoded);
  ASSERT_FALSE(r.ok()) << "accepted " << encoded.size() << " bytes";
  EXPECT_PRED2(contains, r.error_message(), reason);
}

TEST(Manifest, RoundTrips) {
  for (std::uint64_t size :
       {std::uint64_t{0}, std::uint64_t{1}, 256 * KiB, 256 * KiB + 1, 3 * MiB}) {
    const manifest m = sample_manifest(size);
    auto decoded = decode_manifest(encode_manifest(m));
    ASSERT_TRUE(decoded.ok()) << size << ": " << decoded.error_message();
    EXPECT_EQ(*decoded, m);
  }
}

TEST(Manifest, HasDocumentedByteLayout) {
  EXPECT_EQ(encode_manifest(small_manifest()), expected_small_manifest);
  auto decoded = decode_manifest(expected_small_manifest);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(*decoded, small_manifest());
  // The content id quoted in docs/protocol.md.
  EXPECT_EQ(to_hex(id_of(small_manifest())), to_hex(sha256(expected_small_manifest)));
}

TEST(ContentId, OfARealFileMatchesTheDocumentedExample) {
  // docs/protocol.md, "Manifest": hello.txt holding the 5 bytes "hello".
  const bytes content = of("hello");
  manifest m;
  m.name = "hello.txt";
  m.size = content.size();
  m.chunk_size = chunk_size_for(m.size);
  m.chunk_hashes = {sha256(content)};
  EXPECT_EQ(to_hex(m.chunk_hashes[0]),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(to_hex(encode_manifest(m)),
            "01090000000000000068656c6c6f2e7478740500000000000000000004000100000000000000"
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(to_hex(id_of(m)), "008393c938c476cfa34d0080652f0b0efe09ed25f4b87aee31ee4961b002eed9");
}

TEST(Manifest, EmptyFileHasNoChunks) {
  const manifest m = sample_manifest(0);
  EXPECT_EQ(m.chunk_count(), 0u);
  auto decoded = decode_manifest(encode_manifest(m));
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(decoded->chunk_count(), 0u);
}

TEST(Manifest, LastChunkIsShort) {
  const manifest m = sample_manifest(600 * KiB);  // 256 + 256 + 88 KiB
  ASSERT_EQ(m.chunk_count(), 3u);
  EXPECT_EQ(m.chunk_offset(2), 512 * KiB);
  EXPECT_EQ(m.chunk_length(0), 256 * KiB);
  EXPECT_EQ(m.chunk_length(1), 256 * KiB);
  EXPECT_EQ(m.chunk_length(2), 88 * KiB);
  EXPECT_EQ(m.chunk_length(3), 0u);                                  // out of range
  EXPECT_EQ(sample_manifest(512 * KiB).chunk_length(1), 256 * KiB);  // exact multiple
}

TEST(ContentId, IsSha256OfTheEncoding) {
  const manifest m = sample_manifest(MiB);
  const auto encoded = encode_manifest(m);
  EXPECT_EQ(id_of(m), sha256(encoded));
  EXPECT_EQ(id_of_encoded(encoded), sha256(encoded));
  // Any change to the manifest changes its id.
  manifest renamed = m;
  renamed.name = "other.txt";
  EXPECT_NE(id_of(renamed), id_of(m));
}

TEST(Sha256, MatchesKnownAnswers) {
  EXPECT_EQ(to_hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(of("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two blocks (FIPS 180-2 example).
  EXPECT_EQ(to_hex(sha256(of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(ContentId, HexRoundTrips) {
  const content_id id = counting_digest(0xe0);
  const auto hex = to_hex(id);
  EXPECT_EQ(hex, "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  auto back = content_id_from_hex(hex);
  ASSERT_TRUE(back.ok()) << back.error_message();
  EXPECT_EQ(*back, id);
}

TEST(ContentId, RejectsMalformedHex) {
  const std::string good(64, 'a');
  EXPECT_TRUE(content_id_from_hex(good).ok());
  EXPECT_FALSE(content_id_from_hex("").ok());
  EXPECT_FALSE(content_id_from_hex(good.substr(1)).ok());  // 63 digits
  EXPECT_FALSE(content_id_from_hex(good + "a").ok());      // 65 digits
  EXPECT_FALSE(content_id_from_hex(std::string(64, 'A')).ok());
  EXPECT_FALSE(content_id_from_hex(std::string(63, 'a') + "g").ok());
  EXPECT_FALSE(content_id_from_hex(std::string(63, 'a') + " ").ok());
}

TEST(ChunkSize, IsSmallestPowerOfTwoThatKeepsTheCountWithinTheMaximum) {
  struct expectation {
    std::uint64_t size;
    std::uint32_t chunk;
    std::uint64_t count;
  };
  for (const auto& e : {
           expectation{0, 256 * KiB, 0},
           expectation{1, 256 * KiB, 1},
           expectation{256 * KiB, 256 * KiB, 1},
           expectation{256 * KiB + 1, 256 * KiB, 2},
           expectation{8 * GiB, 256 * KiB, 32768},
           expectation{8 * GiB + 1, 512 * KiB, 16385},
           expectation{16 * GiB, 512 * KiB, 32768},
           expectation{16 * GiB + 1, 1 * MiB, 16385},
           expectation{max_file_bytes - 1, 4 * MiB, 32768},
           expectation{max_file_bytes, 4 * MiB, 32768},
       }) {
    const auto chunk = chunk_size_for(e.size);
    EXPECT_EQ(chunk, e.chunk) << e.size;
    EXPECT_EQ(ceil_div(e.size, chunk), e.count) << e.size;
    EXPECT_LE(ceil_div(e.size, chunk), max_chunks) << e.size;
  }
}

TEST(ChunkSize, IsCappedAtTheMaximumAboveTheLargestFile) {
  EXPECT_EQ(chunk_size_for(max_file_bytes + 1), max_chunk_bytes);
  EXPECT_EQ(chunk_size_for(std::numeric_limits<std::uint64_t>::max()), max_chunk_bytes);
}

TEST(Manifest, LargestFileRoundTripsWithinTheManifestLimit) {
  const manifest m = sample_manifest(max_file_bytes);
  const auto encoded = encode_manifest(m);
  EXPECT_LE(encoded.size(), max_manifest_bytes);
  auto decoded = decode_manifest(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(decoded->chunk_count(), max_chunks);
}

TEST(FileName, AcceptsOrdinaryNames) {
  for (const char* name : {"a", "notes.txt", "my holiday photos.tar.gz", "caf\xc3\xa9.txt",
                           ".hidden", "...", "a..b", "..a", "-rf", "~"}) {
    EXPECT_TRUE(is_safe_file_name(name)) << name;
    auto decoded = decode_manifest(encode_manifest(sample_manifest(KiB, name)));
    EXPECT_TRUE(decoded.ok()) << name << ": " << decoded.error_message();
  }
  EXPECT_TRUE(is_safe_file_name(std::string(max_file_name_bytes, 'n')));
}

TEST(FileName, RejectsNamesThatEscapeTheDirectoryOrForgeOutput) {
  const std::vector<std::string> unsafe = {
      "../../x",
      "/etc/x",
      "a/../../b",
      "",
      ".",
      "..",
      "a\nb",
      "a\\b",
      "..\\x",
      "x/",
      std::string("a\0b", 3),
      "a\x7f",
      "\x1b[31mred",
      "tab\there",
      std::string(10000, 'x'),
      std::string(max_file_name_bytes + 1, 'n'),
  };
  for (const auto& name : unsafe) {
    EXPECT_FALSE(is_safe_file_name(name)) << name.size() << " bytes: " << name.substr(0, 40);
    auto decoded = decode_manifest(encode_manifest(sample_manifest(KiB, name)));
    EXPECT_FALSE(decoded.ok()) << name.substr(0, 40);
  }
  expect_rejected(encode_manifest(sample_manifest(KiB, "../../x")), "unsafe file name");
  expect_rejected(encode_manifest(sample_manifest(KiB, std::string(10000, 'x'))),
                  "exceeds the maximum");
}

TEST(Manifest, RejectsChunkCountThatDoesNotMatchTheSize) {
  manifest m = sample_manifest(300 * KiB);  // needs 2 chunks
  m.chunk_hashes.pop_back();
  expect_rejected(encode_manifest(m), "does not match");
  m.chunk_hashes.assign(3, counting_digest(0));
  expect_rejected(encode_manifest(m), "does not match");
  manifest empty = sample_manifest(0);
  empty.chunk_hashes.push_back(counting_digest(0));
  expect_rejected(encode_manifest(empty), "does not match");
  manifest one = sample_manifest(1);
  one.chunk_hashes.clear();
  expect_rejected(encode_manifest(one), "does not match");
}

TEST(Manifest, RejectsChunkSizeThatIsNotAPowerOfTwoWithinBounds) {
  const auto good = encode_manifest(small_manifest());
  const auto at = chunk_size_offset(5);
  for (std::uint32_t bad : {0u, 1u, 128u * 1024u, 256u * 1024u - 1u, 256u * 1024u + 1u,
                            300u * 1024u, 8u * 1024u * 1024u, 0x80000000u, 0xffffffffu}) {
    expect_rejected(with_u32(good, at, bad), "power of two");
  }
  for (std::uint32_t ok : {256u * 1024u, 512u * 1024u, 1024u * 1024u, 4u * 1024u * 1024u}) {
    EXPECT_TRUE(decode_manifest(with_u32(good, at, ok)).ok()) << ok;
  }
}

TEST(Manifest, RejectsSizeAboveTheMaximum) {
  manifest m = sample_manifest(max_file_bytes);
  m.size = max_file_bytes + 1;
  expect_rejected(encode_manifest(m), "exceeds the maximum");
  expect_rejected(
      with_u64(expected_small_manifest, size_offset(5), std::numeric_limits<std::uint64_t>::max()),
      "exceeds the maximum");
}

TEST(Manifest, RejectsAbsurdCountsWithoutAllocating) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  for (std::uint64_t n : {std::uint64_t{max_chunks} + 1, std::uint64_t{1} << 32,
                          std::numeric_limits<std::uint64_t>::max()}) {
    expect_rejected(with_u64(expected_small_manifest, count_offset(5), n), "exceeds the maximum");
    expect_rejected(with_u64(expected_small_manifest, 1, n), "exceeds the maximum");  // name
  }
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  // ru_maxrss is in KiB: a resize before the check would touch gigabytes.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024);
}

TEST(Manifest, RejectsEveryTruncation) {
  for (const auto& full : {expected_small_manifest, encode_manifest(sample_manifest(600 * KiB)),
                           encode_manifest(sample_manifest(0))}) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      EXPECT_FALSE(decode_manifest(std::span(full).first(n)).ok()) << n << " of " << full.size();
    }
  }
}

TEST(Manifest, RejectsTrailingBytes) {
  bytes b = expected_small_manifest;
  b.push_back(0);
  expect_rejected(b, "unexpected bytes");
}

TEST(Manifest, RejectsEndiannessFlagOtherThanLittle) {
  for (std::uint8_t flag : {0, 2, 0xff}) {
    bytes b = expected_small_manifest;
    b[0] = flag;
    EXPECT_FALSE(decode_manifest(b).ok()) << int{flag};
  }
}

}  // namespace
}  // namespace peerlab::protocol

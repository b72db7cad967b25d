// Framing: a 4-byte big-endian length, then the payload. These tests pin the
// header layout and prove the decoder finds frame boundaries no matter how
// TCP splits the byte stream, and refuses oversized lengths before buffering.

#include "protocol/frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace peerlab::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes frame_bytes(std::size_t n, std::uint8_t seed = 0) {
  bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(seed + i * 7);
  return out;
}

// Header of a frame announcing `length` bytes, without any payload.
bytes header(std::uint32_t length) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
}

// Calls next() until it reports "need more bytes"; fails the test on an error.
std::vector<bytes> drain(frame_decoder& d) {
  std::vector<bytes> frames;
  for (;;) {
    auto r = d.next();
    EXPECT_TRUE(r.ok()) << r.error_message();
    if (!r.ok() || !r->has_value()) return frames;
    frames.push_back(std::move(**r));
  }
}

std::vector<bytes> sample_payloads() {
  return {frame_bytes(1, 1),     frame_bytes(0), frame_bytes(300, 2), frame_bytes(5, 3),
          frame_bytes(70000, 4), frame_bytes(0), frame_bytes(2, 5)};
}

bytes concatenated_frames(const std::vector<bytes>& payloads) {
  bytes stream;
  for (const auto& p : payloads) {
    const auto f = encode_frame(p);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  return stream;
}

TEST(EncodeFrame, PrefixesPayloadWithBigEndianLength) {
  const bytes payload = frame_bytes(0x0102 + 3);  // 0x105 bytes
  const auto f = encode_frame(payload);
  ASSERT_EQ(f.size(), 4u + payload.size());
  EXPECT_EQ(bytes(f.begin(), f.begin() + 4), (bytes{0x00, 0x00, 0x01, 0x05}));
  EXPECT_EQ(bytes(f.begin() + 4, f.end()), payload);
}

TEST(EncodeFrame, EmptyPayloadIsJustAZeroHeader) {
  EXPECT_EQ(encode_frame({}), (bytes{0, 0, 0, 0}));
}

TEST(FrameDecoder, RoundTripsOneFrame) {
  const bytes payload = frame_bytes(1000, 9);
  frame_decoder d;
  d.feed(encode_frame(payload));
  auto r = d.next();
  ASSERT_TRUE(r.ok()) << r.error_message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, payload);
  auto after = d.next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, ReturnsSeveralFramesFromOneFeed) {
  const auto payloads = sample_payloads();
  frame_decoder d;
  d.feed(concatenated_frames(payloads));
  EXPECT_EQ(drain(d), payloads);
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, BytesFedOneAtATimeGiveTheSameFrames) {
  const auto payloads = sample_payloads();
  const auto stream = concatenated_frames(payloads);
  frame_decoder d;
  std::vector<bytes> got;
  for (auto b : stream) {
    d.feed(std::span(&b, 1));
    for (auto& f : drain(d))
      got.push_back(std::move(f));
  }
  EXPECT_EQ(got, payloads);
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, RandomSplitsGiveTheSameFrames) {
  const auto payloads = sample_payloads();
  const auto stream = concatenated_frames(payloads);
  std::mt19937 rng(20240601);
  for (int round = 0; round < 50; ++round) {
    std::uniform_int_distribution<std::size_t> piece(0, round % 2 == 0 ? 9 : 5000);
    frame_decoder d;
    std::vector<bytes> got;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const auto n = std::min(piece(rng), stream.size() - pos);
      d.feed(std::span(stream).subspan(pos, n));
      pos += n;
      for (auto& f : drain(d))
        got.push_back(std::move(f));
    }
    ASSERT_EQ(got, payloads) << "round " << round;
  }
}

TEST(FrameDecoder, ZeroLengthPayloadIsAFrame) {
  frame_decoder d;
  d.feed(header(0));
  auto r = d.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->empty());
}

TEST(FrameDecoder, IncompleteHeaderYieldsNoFrame) {
  frame_decoder d;
  d.feed(bytes{0, 0, 0});
  auto r = d.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(d.buffered_bytes(), 3u);
}

TEST(FrameDecoder, FrameCutHalfWayYieldsNoFrameUntilTheRestArrives) {
  const bytes payload = frame_bytes(100, 1);
  const auto f = encode_frame(payload);
  frame_decoder d;
  d.feed(std::span(f).first(4 + 50));
  auto r = d.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.buffered_bytes(), 54u);

  d.feed(std::span(f).subspan(54));
  auto rest = d.next();
  ASSERT_TRUE(rest.ok());
  ASSERT_TRUE(rest->has_value());
  EXPECT_EQ(**rest, payload);
}

TEST(FrameDecoder, AcceptsPayloadOfExactlyTheMaximum) {
  const bytes payload = frame_bytes(max_frame_bytes, 3);
  frame_decoder d;
  d.feed(encode_frame(payload));
  auto r = d.next();
  ASSERT_TRUE(r.ok()) << r.error_message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->size(), max_frame_bytes);
  EXPECT_EQ(**r, payload);
}

TEST(FrameDecoder, MaximumIsFourMebibytesPlusRoomForFields) {
  // One full 4 MiB chunk plus its message fields (docs/protocol.md, §2).
  EXPECT_EQ(max_frame_bytes, 4198400u);
}

TEST(FrameDecoder, RejectsLengthAboveMaximumBeforeAllocating) {
  frame_decoder d;
  d.feed(header(static_cast<std::uint32_t>(max_frame_bytes + 1)));
  auto r = d.next();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("exceeds"), std::string::npos) << r.error_message();
  EXPECT_TRUE(d.failed());
  // Nothing is kept, and the body that follows is not buffered either.
  EXPECT_EQ(d.buffered_bytes(), 0u);
  d.feed(frame_bytes(64 * 1024));
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, RejectsFourGibibyteLength) {
  frame_decoder d;
  d.feed(bytes{0xff, 0xff, 0xff, 0xff});
  auto r = d.next();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_message().find("4294967295"), std::string::npos) << r.error_message();
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, RejectsOversizedLengthAfterValidFrames) {
  bytes stream = encode_frame(frame_bytes(10));
  const auto bad = header(static_cast<std::uint32_t>(max_frame_bytes + 1));
  stream.insert(stream.end(), bad.begin(), bad.end());
  frame_decoder d;
  d.feed(stream);
  auto first = d.next();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ(**first, frame_bytes(10));
  EXPECT_FALSE(d.next().ok());
  EXPECT_TRUE(d.failed());
}

TEST(FrameDecoder, CustomMaximumIsEnforced) {
  frame_decoder d(16);
  d.feed(encode_frame(frame_bytes(16)));
  auto ok = d.next();
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->has_value());
  d.feed(header(17));
  EXPECT_FALSE(d.next().ok());
}

TEST(FrameDecoder, StaysFailedAfterAnError) {
  frame_decoder d;
  d.feed(header(static_cast<std::uint32_t>(max_frame_bytes + 1)));
  ASSERT_FALSE(d.next().ok());
  // Even a perfectly valid frame is refused: the stream is no longer aligned.
  d.feed(encode_frame(frame_bytes(3)));
  auto r = d.next();
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(d.failed());
  EXPECT_FALSE(d.next().ok());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, BufferedBytesCountOnlyTheUnconsumedPartialFrame) {
  frame_decoder d;
  const auto f = encode_frame(frame_bytes(1000));
  for (int i = 0; i < 100; ++i) {
    d.feed(f);
    d.feed(std::span(f).first(4));  // a header whose body is still to come
    auto r = d.next();
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ(d.buffered_bytes(), 4u);
    d.feed(std::span(f).subspan(4));
    ASSERT_TRUE(d.next()->has_value());
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
}

// Reads a stream as the connection does: into direct_space() whenever the
// decoder offers it (at most `piece` bytes at a time), else through feed().
std::vector<bytes> read_like_a_socket(const bytes& stream, std::size_t piece,
                                      std::shared_ptr<buffer_recycler> recycler = nullptr) {
  frame_decoder d;
  d.recycle_from(recycler);
  std::vector<bytes> frames;
  std::size_t at = 0;
  while (at < stream.size()) {
    auto more = drain(d);
    frames.insert(frames.end(), more.begin(), more.end());
    const auto space = d.direct_space();
    const auto n = std::min({piece, stream.size() - at, space.empty() ? piece : space.size()});
    if (!space.empty()) {
      std::copy_n(stream.begin() + static_cast<std::ptrdiff_t>(at), n, space.begin());
      d.commit_direct(n);
    } else {
      d.feed(std::span(stream).subspan(at, n));
    }
    at += n;
  }
  auto more = drain(d);
  frames.insert(frames.end(), more.begin(), more.end());
  return frames;
}

TEST(FrameDecoder, LargePayloadsAreReceivedInPlace) {
  const std::vector<bytes> payloads = {
      frame_bytes(10, 1), frame_bytes(frame_decoder::direct_min_bytes, 2), frame_bytes(3, 3),
      frame_bytes(1024 * 1024 + 5, 4), frame_bytes(0)};
  const auto stream = concatenated_frames(payloads);
  for (const std::size_t piece : {std::size_t{1000}, std::size_t{65536}, std::size_t{1} << 22})
    EXPECT_EQ(read_like_a_socket(stream, piece), payloads) << "pieces of " << piece;
}

TEST(FrameDecoder, LargePayloadsReuseRecycledBuffersAndStayIntact) {
  auto recycler = std::make_shared<buffer_recycler>();
  const auto payload = frame_bytes(300000, 5);
  const auto stream = concatenated_frames({payload});
  auto first = read_like_a_socket(stream, 65536, recycler);
  ASSERT_EQ(first, std::vector<bytes>{payload});
  const auto* storage = first[0].data();
  recycler->give(std::move(first[0]));
  EXPECT_GE(recycler->kept_bytes(), payload.size());
  // The next large payload lands in the very same buffer, correctly filled
  // (a recycled buffer's old bytes never show through).
  const auto other = frame_bytes(299999, 6);
  frame_decoder d;
  d.recycle_from(recycler);
  const auto f = encode_frame(other);
  d.feed(std::span(f).first(10));
  ASSERT_FALSE(d.next()->has_value());
  EXPECT_EQ(d.direct_space().data() - 6, storage);  // 6 payload bytes came through feed()
  std::size_t at = 10;
  for (auto space = d.direct_space(); !space.empty(); space = d.direct_space()) {
    std::copy_n(f.begin() + static_cast<std::ptrdiff_t>(at), space.size(), space.begin());
    d.commit_direct(space.size());
    at += space.size();
  }
  EXPECT_EQ(at, f.size());
  auto r = d.next();
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(**r, other);
  EXPECT_EQ(recycler->kept_bytes(), 0u);
}

TEST(BufferRecycler, KeepsABoundedNumberOfBuffersOfFittingSizes) {
  buffer_recycler r(2, 1024 * 1024);
  auto sized = [](std::size_t n) {
    std::vector<std::uint8_t> b;
    b.reserve(n);
    return b;
  };
  r.give(sized(300000));
  r.give(sized(600000));
  r.give(sized(100000));  // over the count: freed
  EXPECT_EQ(r.kept_bytes(), 900000u);
  EXPECT_TRUE(r.take(700000).capacity() == 0);  // none large enough
  EXPECT_TRUE(r.take(100000).capacity() == 0);  // none small enough: 300000 > 2 x 100000
  const auto b = r.take(250000);
  EXPECT_EQ(b.capacity(), 300000u);  // the smallest that fits
  EXPECT_TRUE(b.empty());
  r.give(sized(600000));  // over the byte bound (600000 + 600000 > 1 MiB): freed
  EXPECT_EQ(r.kept_bytes(), 600000u);
}

TEST(FrameDecoder, DirectSpaceOpensOnlyInsideALargePayload) {
  frame_decoder d;
  EXPECT_TRUE(d.direct_space().empty());
  const auto f = encode_frame(frame_bytes(300000, 9));
  d.feed(std::span(f).first(100));  // the header and 96 payload bytes
  ASSERT_FALSE(d.next()->has_value());
  const auto space = d.direct_space();
  // A window of one step, however much more the header announced.
  EXPECT_EQ(space.size(), frame_decoder::direct_step_bytes);
  EXPECT_EQ(d.buffered_bytes(), 100u);
  std::copy_n(f.begin() + 100, space.size(), space.begin());
  d.commit_direct(space.size());
  d.feed(std::span(f).subspan(100 + space.size()));
  EXPECT_TRUE(d.direct_space().empty());
  auto r = d.next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, frame_bytes(300000, 9));
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameDecoder, BeforeTheHelloOnlyAHelloSizedFrameIsAccepted) {
  frame_decoder d(max_hello_frame_bytes);
  d.feed(header(static_cast<std::uint32_t>(max_hello_frame_bytes + 1)));
  EXPECT_FALSE(d.next().ok());  // refused on the header alone
  EXPECT_EQ(d.held_bytes(), 0u);
}

TEST(FrameDecoder, TheLimitRisesOnceTheHelloIsIn) {
  frame_decoder d(max_hello_frame_bytes);
  d.feed(encode_frame(frame_bytes(100)));
  d.feed(header(64 * 1024));  // pipelined right behind the hello
  auto hello = d.next();
  ASSERT_TRUE(hello.ok());
  ASSERT_TRUE(hello->has_value());
  d.set_max_payload(max_frame_bytes);
  auto next = d.next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());  // waiting for its bytes, not refused
}

TEST(FrameDecoder, HeldBytesFollowTheBuffersAndAnEmptiedBigBufferIsGivenBack) {
  frame_decoder d;
  EXPECT_EQ(d.held_bytes(), 0u);
  d.feed(encode_frame(frame_bytes(60 * 1024)));
  EXPECT_GE(d.held_bytes(), 60u * 1024);
  ASSERT_TRUE(d.next().ok());
  EXPECT_LE(d.held_bytes(), frame_decoder::kept_buffer_bytes);
}

}  // namespace
}  // namespace peerlab::protocol

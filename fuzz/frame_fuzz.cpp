// Frame decoder: a byte stream in, payloads out. Byte 0 of the input picks
// the decoder's maximum (0..254, so the fuzzer reaches the limit with short
// inputs; 255 is the real max_frame_bytes); the rest is the stream. Checks:
// the decoder finds exactly the frames a one-pass reading of the stream finds,
// however the stream is split; no frame exceeds the maximum; it never holds a
// whole maximal frame's worth of bytes without handing it out; after a bad
// length it stays failed; re-encoding the frames gives back the stream. Each
// split is read twice: through feed() only, and as a connection reads, with
// large payloads received in place (direct_space).

#include <algorithm>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/frame.hpp"

namespace peerlab::fuzz {

namespace {

using bytes = std::vector<std::uint8_t>;

struct outcome {
  std::vector<bytes> frames;
  bool failed = false;
  std::size_t left = 0;  // bytes of an incomplete frame at the end

  bool operator==(const outcome&) const = default;
};

// The frames, read straight off the whole stream.
outcome reference(std::span<const std::uint8_t> stream, std::size_t max) {
  outcome out;
  std::size_t at = 0;
  while (stream.size() - at >= protocol::frame_header_bytes) {
    const auto* h = stream.data() + at;
    const std::size_t length = (std::size_t{h[0]} << 24) | (std::size_t{h[1]} << 16) |
                               (std::size_t{h[2]} << 8) | std::size_t{h[3]};
    if (length > max) {
      out.failed = true;
      return out;
    }
    if (stream.size() - at - protocol::frame_header_bytes < length) break;
    const auto payload = stream.subspan(at + protocol::frame_header_bytes, length);
    out.frames.emplace_back(payload.begin(), payload.end());
    at += protocol::frame_header_bytes + length;
  }
  out.left = stream.size() - at;
  return out;
}

// Gives the decoder a piece as a connection does: into direct_space() as far
// as it reaches (when `direct`), the rest through feed().
void give(protocol::frame_decoder& decoder, std::span<const std::uint8_t> piece, bool direct) {
  while (direct && !piece.empty()) {
    const auto space = decoder.direct_space();
    if (space.empty()) break;
    const auto n = std::min(space.size(), piece.size());
    std::copy_n(piece.begin(), n, space.begin());
    decoder.commit_direct(n);
    piece = piece.subspan(n);
  }
  if (!piece.empty()) decoder.feed(piece);
}

// The frames as a connection sees them: give a piece, take every frame.
outcome decode(std::span<const std::uint8_t> stream, std::size_t max, split how, bool direct) {
  protocol::frame_decoder decoder(max);
  outcome out;
  std::size_t at = 0;
  for (const auto n : piece_sizes(stream, how)) {
    give(decoder, stream.subspan(at, n), direct);
    at += n;
    while (!out.failed) {
      auto next = decoder.next();
      if (!next) {
        FUZZ_CHECK(decoder.failed());
        FUZZ_CHECK(decoder.buffered_bytes() == 0);  // nothing kept once failed
        out.failed = true;
        break;
      }
      if (!*next) break;
      FUZZ_CHECK((*next)->size() <= max);
      out.frames.push_back(std::move(**next));
    }
    if (out.failed) {
      // Stays failed: more bytes are dropped, next() keeps refusing.
      decoder.feed(stream.subspan(0, at));
      FUZZ_CHECK(!decoder.next().ok() && decoder.buffered_bytes() == 0);
      return out;
    }
    // A complete frame is never left inside: what remains is shorter than
    // a header plus the largest payload it could announce.
    FUZZ_CHECK(decoder.buffered_bytes() < protocol::frame_header_bytes + max);
  }
  out.left = decoder.buffered_bytes();
  return out;
}

}  // namespace

int fuzz_frame(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max = data[0] == 0xff ? protocol::max_frame_bytes : data[0];
  const std::span<const std::uint8_t> stream(data + 1, size - 1);

  const auto expected = reference(stream, max);
  for (const auto how : all_splits) {
    FUZZ_CHECK(decode(stream, max, how, false) == expected);
    FUZZ_CHECK(decode(stream, max, how, true) == expected);
  }

  // Encoding the frames again gives back the stream they came from.
  bytes encoded;
  for (const auto& frame : expected.frames) {
    const auto one = protocol::encode_frame(frame);
    encoded.insert(encoded.end(), one.begin(), one.end());
  }
  FUZZ_CHECK(encoded.size() <= stream.size());
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), stream.begin()));
  return 0;
}

}  // namespace peerlab::fuzz

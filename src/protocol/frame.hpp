#pragma once
// Framing: every message travels as a 4-byte big-endian length followed by
// that many payload bytes. TCP is a byte stream, so the receiver needs the
// length to find where one message ends and the next begins.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/result.hpp"

namespace peerlab::protocol {

inline constexpr std::size_t frame_header_bytes = 4;
// Room for the largest chunk (4 MiB) plus its message fields; checked before
// any payload is kept, so a hostile length prefix costs the receiver nothing.
inline constexpr std::size_t max_frame_bytes = 4 * 1024 * 1024 + 4096;

// Length prefix + payload, ready to write to a socket.
std::vector<std::uint8_t> encode_frame(std::span<const std::uint8_t> payload);

// Incremental decoder: feed it bytes in whatever pieces the socket delivers,
// then call next() until it has no more frames. Lengths are checked as soon as
// a header is complete and before any payload is kept, so memory stays below
// one maximal frame plus the last piece fed. After an error the decoder stays
// failed: the stream can no longer be trusted to be aligned on frames.
class frame_decoder {
 public:
  explicit frame_decoder(std::size_t max_payload_bytes = max_frame_bytes);

  void feed(std::span<const std::uint8_t> bytes);

  // A complete payload, nullopt if more bytes are needed, or an error if the
  // next header announces more than the maximum.
  result<std::optional<std::vector<std::uint8_t>>> next();

  bool failed() const { return failed_; }
  std::size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_payload_bytes_;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  bool failed_ = false;
};

}  // namespace peerlab::protocol

#pragma once
// Framing: every message travels as a 4-byte big-endian length followed by
// that many payload bytes. TCP is a byte stream, so the receiver needs the
// length to find where one message ends and the next begins.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "protocol/result.hpp"

namespace peerlab::protocol {

inline constexpr std::size_t frame_header_bytes = 4;
// Room for the largest chunk (4 MiB) plus its message fields; checked before
// any payload is kept, so a hostile length prefix costs the receiver nothing.
inline constexpr std::size_t max_frame_bytes = 4 * 1024 * 1024 + 4096;
// Until a peer's hello is in, its frames may be no larger than a hello can
// be (98 bytes with a 64-byte name): a stranger who has proved nothing gets
// to make us buffer a few hundred bytes, not 4 MiB.
inline constexpr std::size_t max_hello_frame_bytes = 256;

// Length prefix + payload, ready to write to a socket.
std::vector<std::uint8_t> encode_frame(std::span<const std::uint8_t> payload);
// The length prefix alone, for a frame whose payload is written separately.
std::array<std::uint8_t, frame_header_bytes> encode_frame_length(std::uint32_t payload_bytes);

// Payload buffers of large frames (chunks), kept for the next one: a chunk
// received into a buffer whose pages are mapped (and cached) already spares
// the kernel mapping, zeroing and unmapping 256 KiB+ of fresh pages per
// chunk. One thread uses it (the network thread); bounded in count and bytes.
class buffer_recycler {
 public:
  buffer_recycler(std::size_t max_buffers = 8, std::size_t max_bytes = 4 * 1024 * 1024)
      : max_buffers_(max_buffers), max_bytes_(max_bytes) {}

  // A buffer with room for `bytes` (and not more than twice that), if one is
  // kept; otherwise an empty one with no room. A kept buffer keeps the size
  // and the (stale) bytes it was given with: the caller overwrites them.
  std::vector<std::uint8_t> take(std::size_t bytes);
  // Keeps `b` for later if there is room; otherwise it is freed.
  void give(std::vector<std::uint8_t>&& b);
  std::size_t kept_bytes() const { return kept_bytes_; }

 private:
  std::size_t max_buffers_;
  std::size_t max_bytes_;
  std::size_t kept_bytes_ = 0;  // their capacity
  std::vector<std::vector<std::uint8_t>> kept_;
};

// Incremental decoder: feed it bytes in whatever pieces the socket delivers,
// then call next() until it has no more frames. Lengths are checked as soon as
// a header is complete and before any payload is kept, so memory stays below
// one maximal frame plus the last piece fed. After an error the decoder stays
// failed: the stream can no longer be trusted to be aligned on frames.
//
// A large payload (a chunk) can skip the copy through feed(): once its header
// is in, direct_space() is a window of the payload's own buffer for the
// socket to read into, and next() hands that buffer out when it is full.
class frame_decoder {
 public:
  // Payloads at least this long are received in place.
  static constexpr std::size_t direct_min_bytes = 64 * 1024;
  // The window grows by at most this much at a time, so a header announcing
  // 4 MiB costs no more memory than the bytes that really follow it.
  static constexpr std::size_t direct_step_bytes = 256 * 1024;
  // An emptied buffer larger than this is given back.
  static constexpr std::size_t kept_buffer_bytes = 16 * 1024;

  explicit frame_decoder(std::size_t max_payload_bytes = max_frame_bytes);

  void feed(std::span<const std::uint8_t> bytes);

  // Changes the limit checked on the next headers (e.g. once a hello is in).
  void set_max_payload(std::size_t max_payload_bytes) { max_payload_bytes_ = max_payload_bytes; }
  // Large payloads are received into buffers taken from here, when it has one.
  void recycle_from(std::shared_ptr<buffer_recycler> r) { recycler_ = std::move(r); }

  // Where the next bytes of the stream may be written directly, or empty
  // when they must go through feed(). Call commit_direct(n) after writing n.
  std::span<std::uint8_t> direct_space();
  void commit_direct(std::size_t n);

  // A complete payload, nullopt if more bytes are needed, or an error if the
  // next header announces more than the maximum.
  result<std::optional<std::vector<std::uint8_t>>> next();

  bool failed() const { return failed_; }
  // Memory the decoder holds now (its buffers' capacity): what a node-wide
  // memory budget is charged for this connection.
  std::size_t held_bytes() const { return buffer_.capacity() + large_.capacity(); }
  // Bytes of frames not yet handed out (a large payload's header included).
  std::size_t buffered_bytes() const {
    return buffer_.size() - consumed_ +
           (large_length_ > 0 ? frame_header_bytes + large_filled_ : 0);
  }

 private:
  std::size_t max_payload_bytes_;
  std::shared_ptr<buffer_recycler> recycler_;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  bool failed_ = false;
  // The large payload being received in place: large_length_ bytes expected,
  // large_filled_ of them in large_ so far (its size is the window's end).
  std::vector<std::uint8_t> large_;
  std::size_t large_length_ = 0;
  std::size_t large_filled_ = 0;
};

}  // namespace peerlab::protocol

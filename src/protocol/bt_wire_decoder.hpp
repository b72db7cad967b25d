#pragma once
// Incremental decoder for a BitTorrent connection, like frame_decoder for
// peerlab's: feed it bytes as the socket delivers them, call next() until it
// has nothing more. It answers good (a message), need more (nullopt) or bad
// (an error, after which it stays failed). Each message's length is checked
// against its type's limit as soon as the length and id are in, before any
// of its body is kept.
//
// A piece's block can skip the copy through feed(): once the 13 bytes before
// its data are in, direct_space() is a window of the block's own buffer for
// the socket to read into, and next() hands that buffer out when full.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocol/bt_hash.hpp"
#include "protocol/bt_wire.hpp"
#include "protocol/result.hpp"

namespace peerlab::protocol::bt {

struct wire_limits {
  std::uint32_t max_block_bytes = max_request_bytes;  // piece data we accept
  std::size_t max_bitfield_bytes = max_pieces / 8;
  std::size_t max_extended_bytes = 1024 * 1024;  // BEP 9 pieces are 16 KiB + a header
  std::size_t max_hashes = 8192 + 64;            // libtorrent asks ≤ 8192, plus proofs
  std::size_t max_unknown_bytes = 64 * 1024;
};

class wire_decoder {
 public:
  // expect_handshake: the stream opens with the 68-byte handshake.
  explicit wire_decoder(bool expect_handshake = true, wire_limits limits = {});

  void feed(std::span<const std::uint8_t> bytes);

  std::span<std::uint8_t> direct_space();
  void commit_direct(std::size_t n);

  result<std::optional<message>> next();

  bool failed() const { return failed_; }
  std::size_t buffered_bytes() const {
    return buffer_.size() - consumed_ + (in_block_ ? block_filled_ : 0);
  }

 private:
  result<std::optional<message>> fail(std::string why);
  // The message's length is acceptable for its id; "" or why not.
  std::string length_problem(std::uint8_t id, std::uint32_t length) const;
  result<message> parse(std::uint8_t id, std::span<const std::uint8_t> body) const;

  wire_limits limits_;
  bool expect_handshake_;
  bool failed_ = false;
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  // The piece whose block is being received into its own buffer.
  bool in_block_ = false;
  std::uint32_t block_index_ = 0, block_begin_ = 0;
  std::vector<std::uint8_t> block_;
  std::size_t block_filled_ = 0;
};

}  // namespace peerlab::protocol::bt

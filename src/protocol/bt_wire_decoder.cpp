#include "protocol/bt_wire_decoder.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace peerlab::protocol::bt {

namespace {

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Fields after the id of the hash messages: root, base, index, count, proof layers.
constexpr std::uint32_t hash_fields_bytes = 32 + 16;

template <class M>
M read_hash_fields(std::span<const std::uint8_t> body) {
  M m;
  std::copy_n(body.begin(), 32, m.root.begin());
  m.base = get_u32(body.data() + 32);
  m.index = get_u32(body.data() + 36);
  m.count = get_u32(body.data() + 40);
  m.proof_layers = get_u32(body.data() + 44);
  return m;
}

}  // namespace

wire_decoder::wire_decoder(bool expect_handshake, wire_limits limits)
    : limits_(limits), expect_handshake_(expect_handshake) {}

void wire_decoder::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  if (in_block_) {  // inside a block: its bytes go there first
    const auto n = std::min(bytes.size(), block_.size() - block_filled_);
    std::copy_n(bytes.begin(), n, block_.begin() + static_cast<std::ptrdiff_t>(block_filled_));
    block_filled_ += n;
    bytes = bytes.subspan(n);
    if (bytes.empty()) return;
  }
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::span<std::uint8_t> wire_decoder::direct_space() {
  if (failed_ || !in_block_) return {};
  return {block_.data() + block_filled_, block_.size() - block_filled_};
}

void wire_decoder::commit_direct(std::size_t n) {
  if (in_block_) block_filled_ += std::min(n, block_.size() - block_filled_);
}

result<std::optional<message>> wire_decoder::fail(std::string why) {
  failed_ = true;
  buffer_ = {};
  block_ = {};
  consumed_ = 0;
  in_block_ = false;
  return error{"bittorrent: " + std::move(why)};
}

std::string wire_decoder::length_problem(std::uint8_t id, std::uint32_t length) const {
  const auto exactly = [&](std::uint32_t n) {
    return length == n ? std::string()
                       : "message " + std::to_string(id) + " of " + std::to_string(length) +
                             " bytes, expected " + std::to_string(n);
  };
  const auto at_most = [&](std::uint64_t n) {
    return length <= n ? std::string()
                       : "message " + std::to_string(id) + " of " + std::to_string(length) +
                             " bytes exceeds the maximum of " + std::to_string(n);
  };
  switch (static_cast<message_id>(id)) {
    case message_id::choke:
    case message_id::unchoke:
    case message_id::interested:
    case message_id::not_interested:
    case message_id::have_all:
    case message_id::have_none:
      return exactly(1);
    case message_id::have:
    case message_id::suggest:
    case message_id::allowed_fast:
      return exactly(5);
    case message_id::request:
    case message_id::cancel:
    case message_id::reject_request:
      return exactly(13);
    case message_id::port:
      return exactly(3);
    case message_id::hash_request:
    case message_id::hash_reject:
      return exactly(1 + hash_fields_bytes);
    case message_id::piece:
      if (length < 9) return "piece message without index and begin";
      return at_most(9 + std::uint64_t{limits_.max_block_bytes});
    case message_id::bitfield:
      return at_most(1 + limits_.max_bitfield_bytes);
    case message_id::extended:
      if (length < 2) return "extended message without its id";
      return at_most(2 + limits_.max_extended_bytes);
    case message_id::hashes:
      if (length < 1 + hash_fields_bytes || (length - 1 - hash_fields_bytes) % 32 != 0) {
        return "hashes message is not whole hashes";
      }
      return at_most(1 + hash_fields_bytes + 32 * std::uint64_t{limits_.max_hashes});
  }
  return at_most(1 + limits_.max_unknown_bytes);
}

result<message> wire_decoder::parse(std::uint8_t id, std::span<const std::uint8_t> body) const {
  const std::uint8_t* p = body.data();
  switch (static_cast<message_id>(id)) {
    case message_id::choke:
      return message{choke{}};
    case message_id::unchoke:
      return message{unchoke{}};
    case message_id::interested:
      return message{interested{}};
    case message_id::not_interested:
      return message{not_interested{}};
    case message_id::have_all:
      return message{have_all{}};
    case message_id::have_none:
      return message{have_none{}};
    case message_id::have:
      return message{have{get_u32(p)}};
    case message_id::suggest:
      return message{suggest{get_u32(p)}};
    case message_id::allowed_fast:
      return message{allowed_fast{get_u32(p)}};
    case message_id::request:
    case message_id::cancel:
    case message_id::reject_request: {
      const std::uint32_t piece = get_u32(p), begin = get_u32(p + 4), length = get_u32(p + 8);
      // BEP 3: "clients should close connections asking for more than 128 KiB".
      if (length == 0 || length > max_request_bytes) {
        return error{"bittorrent: block of " + std::to_string(length) +
                     " bytes (a block is 1 byte to 128 KiB)"};
      }
      if (id == static_cast<std::uint8_t>(message_id::request))
        return message{request{piece, begin, length}};
      if (id == static_cast<std::uint8_t>(message_id::cancel))
        return message{cancel{piece, begin, length}};
      return message{reject_request{piece, begin, length}};
    }
    case message_id::port:
      return message{port{static_cast<std::uint16_t>((p[0] << 8) | p[1])}};
    case message_id::bitfield:
      return message{bitfield{{body.begin(), body.end()}}};
    case message_id::piece:
      return message{piece{get_u32(p), get_u32(p + 4), {body.begin() + 8, body.end()}}};
    case message_id::extended:
      return message{extended{p[0], {body.begin() + 1, body.end()}}};
    case message_id::hash_request:
      return message{read_hash_fields<hash_request>(body)};
    case message_id::hash_reject:
      return message{read_hash_fields<hash_reject>(body)};
    case message_id::hashes: {
      auto m = read_hash_fields<hashes>(body);
      const auto rest = body.subspan(hash_fields_bytes);
      m.values.resize(rest.size() / 32);
      for (std::size_t i = 0; i < m.values.size(); ++i)
        std::copy_n(rest.begin() + static_cast<std::ptrdiff_t>(32 * i), 32, m.values[i].begin());
      return message{std::move(m)};
    }
  }
  return message{unknown{id, static_cast<std::uint32_t>(body.size() + 1)}};
}

result<std::optional<message>> wire_decoder::next() {
  using out = std::optional<message>;
  if (failed_) return error{"bittorrent: stream already failed"};
  if (in_block_) {
    if (block_filled_ < block_.size()) return out{};
    in_block_ = false;
    block_filled_ = 0;
    return out{piece{block_index_, block_begin_, std::exchange(block_, {})}};
  }
  const std::size_t available = buffer_.size() - consumed_;
  const std::uint8_t* head = buffer_.data() + consumed_;
  if (expect_handshake_) {
    if (available < handshake_bytes) {
      // Refuse a wrong first byte at once instead of waiting for 68.
      if (available > 0 && head[0] != protocol_name.size()) return fail("not a handshake");
      return out{};
    }
    auto h = decode_handshake({head, handshake_bytes});
    if (!h) return fail(h.error_message());
    consumed_ += handshake_bytes;
    expect_handshake_ = false;
    return out{std::move(*h)};
  }
  if (available < 4) return out{};
  const std::uint32_t length = get_u32(head);
  if (length == 0) {
    consumed_ += 4;
    return out{keepalive{}};
  }
  if (available < 5) return out{};
  const std::uint8_t id = head[4];
  if (auto problem = length_problem(id, length); !problem.empty()) return fail(problem);
  if (id == static_cast<std::uint8_t>(message_id::piece) && available >= 13 &&
      available < 4 + std::size_t{length}) {
    // A block still arriving: from here it goes straight to its own buffer
    // (at most max_block_bytes, the limit checked just above).
    block_index_ = get_u32(head + 5);
    block_begin_ = get_u32(head + 9);
    block_.assign(head + 13, head + available);
    block_.resize(length - 9);
    block_filled_ = available - 13;
    in_block_ = true;
    buffer_.clear();
    consumed_ = 0;
    return out{};
  }
  if (available < 4 + std::size_t{length}) return out{};
  auto m = parse(id, {head + 5, length - 1});
  consumed_ += 4 + std::size_t{length};
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  if (!m) return fail(m.error_message().substr(std::string_view("bittorrent: ").size()));
  return out{std::move(*m)};
}

}  // namespace peerlab::protocol::bt

#include "protocol/frame.hpp"

#include <string>

namespace peerlab::protocol {

std::vector<std::uint8_t> encode_frame(std::span<const std::uint8_t> payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::vector<std::uint8_t> out;
  out.reserve(frame_header_bytes + payload.size());
  out.push_back(static_cast<std::uint8_t>(n >> 24));
  out.push_back(static_cast<std::uint8_t>(n >> 16));
  out.push_back(static_cast<std::uint8_t>(n >> 8));
  out.push_back(static_cast<std::uint8_t>(n));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

frame_decoder::frame_decoder(std::size_t max_payload_bytes)
    : max_payload_bytes_(max_payload_bytes) {}

void frame_decoder::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  // Reclaim the consumed prefix before growing, so the buffer never holds much
  // more than one partial frame.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

result<std::optional<std::vector<std::uint8_t>>> frame_decoder::next() {
  using frame = std::optional<std::vector<std::uint8_t>>;
  if (failed_) return error{"frame stream already failed"};
  if (buffered_bytes() < frame_header_bytes) return frame{};
  const std::uint8_t* h = buffer_.data() + consumed_;
  const std::uint32_t length = (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) |
                               (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
  if (length > max_payload_bytes_) {
    failed_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    consumed_ = 0;
    return error{"frame of " + std::to_string(length) + " bytes exceeds the maximum of " +
                 std::to_string(max_payload_bytes_)};
  }
  if (buffered_bytes() < frame_header_bytes + length) return frame{};
  const auto begin = buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_ + frame_header_bytes);
  std::vector<std::uint8_t> payload(begin, begin + length);
  consumed_ += frame_header_bytes + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return frame{std::move(payload)};
}

}  // namespace peerlab::protocol

#include "protocol/frame.hpp"

#include <algorithm>
#include <string>

namespace peerlab::protocol {

std::array<std::uint8_t, frame_header_bytes> encode_frame_length(std::uint32_t payload_bytes) {
  return {static_cast<std::uint8_t>(payload_bytes >> 24),
          static_cast<std::uint8_t>(payload_bytes >> 16),
          static_cast<std::uint8_t>(payload_bytes >> 8), static_cast<std::uint8_t>(payload_bytes)};
}

std::vector<std::uint8_t> encode_frame(std::span<const std::uint8_t> payload) {
  const auto length = encode_frame_length(static_cast<std::uint32_t>(payload.size()));
  std::vector<std::uint8_t> out(frame_header_bytes + payload.size());
  std::copy(length.begin(), length.end(), out.begin());
  std::copy(payload.begin(), payload.end(), out.begin() + frame_header_bytes);
  return out;
}

std::vector<std::uint8_t> buffer_recycler::take(std::size_t bytes) {
  auto best = kept_.end();
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    const auto room = it->capacity();
    if (room >= bytes && room / 2 <= bytes && (best == kept_.end() || room < best->capacity()))
      best = it;
  }
  if (best == kept_.end()) return {};
  auto b = std::move(*best);
  kept_.erase(best);
  kept_bytes_ -= b.capacity();
  return b;
}

void buffer_recycler::give(std::vector<std::uint8_t>&& b) {
  if (kept_.size() >= max_buffers_ || kept_bytes_ + b.capacity() > max_bytes_ || b.capacity() == 0)
    return;
  kept_bytes_ += b.capacity();
  kept_.push_back(std::move(b));
}

frame_decoder::frame_decoder(std::size_t max_payload_bytes)
    : max_payload_bytes_(max_payload_bytes) {}

void frame_decoder::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return;
  if (large_length_ > 0) {  // inside a large payload: its bytes go there first
    const auto n = std::min(bytes.size(), large_length_ - large_filled_);
    if (large_.size() < large_filled_ + n) large_.resize(large_filled_ + n);
    std::copy_n(bytes.begin(), n, large_.begin() + static_cast<std::ptrdiff_t>(large_filled_));
    large_filled_ += n;
    bytes = bytes.subspan(n);
    if (bytes.empty()) return;
  }
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
  if (large_length_ > 0) {
    if (large_filled_ < large_length_) return frame{};
    auto payload = std::move(large_);
    large_ = {};
    large_length_ = large_filled_ = 0;
    return frame{std::move(payload)};
  }
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
  if (buffered_bytes() < frame_header_bytes + length) {
    if (length >= direct_min_bytes) {
      // Everything buffered belongs to this payload: move it to the payload's
      // own buffer, where the rest will be received in place.
      const auto begin =
          buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_ + frame_header_bytes);
      // Grown only as bytes arrive (direct_space), never to the length
      // claimed: a header announcing 4 MiB costs one step, not 4 MiB.
      // A recycled buffer keeps its size: the window opens over memory that
      // is mapped already, without zero-filling what is about to be
      // overwritten (resizing down fills nothing).
      if (recycler_) large_ = recycler_->take(length);
      const auto first = static_cast<std::size_t>(buffer_.end() - begin);
      large_.resize(std::clamp(large_.size(), first, std::size_t{length}));
      std::copy(begin, buffer_.end(), large_.begin());
      large_length_ = length;
      large_filled_ = first;
      buffer_.clear();
      consumed_ = 0;
    }
    return frame{};
  }
  const auto begin = buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_ + frame_header_bytes);
  std::vector<std::uint8_t> payload(begin, begin + length);
  consumed_ += frame_header_bytes + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
    // An idle connection keeps no large buffer (it counts against the
    // node's memory budget while it is held).
    if (buffer_.capacity() > kept_buffer_bytes) buffer_.shrink_to_fit();
  }
  return frame{std::move(payload)};
}

std::span<std::uint8_t> frame_decoder::direct_space() {
  if (failed_ || large_filled_ == large_length_) return {};
  if (large_.size() == large_filled_) {
    large_.resize(std::min(large_length_, large_filled_ + direct_step_bytes));
  }
  return {large_.data() + large_filled_, large_.size() - large_filled_};
}

void frame_decoder::commit_direct(std::size_t n) {
  large_filled_ += std::min(n, large_.size() - large_filled_);
}

}  // namespace peerlab::protocol

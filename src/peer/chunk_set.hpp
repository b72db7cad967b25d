#pragma once
// Which chunks of a file someone has: one flag per chunk, plus the count, and
// the wire form of a chunk_map (chunk i in byte i/8, most significant bit first).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace peerlab::peer {

class chunk_set {
 public:
  chunk_set() = default;
  explicit chunk_set(std::size_t chunks, bool all = false)
      : flags_(chunks, all), count_(all ? chunks : 0) {}

  std::size_t size() const { return flags_.size(); }
  std::size_t count() const { return count_; }
  bool complete() const { return count_ == flags_.size(); }
  bool has(std::size_t i) const { return i < flags_.size() && flags_[i]; }

  // Returns false if it was already set (or out of range).
  bool set(std::size_t i) {
    if (i >= flags_.size() || flags_[i]) return false;
    flags_[i] = true;
    ++count_;
    return true;
  }

  void clear(std::size_t i) {
    if (i < flags_.size() && flags_[i]) {
      flags_[i] = false;
      --count_;
    }
  }

  std::vector<std::uint8_t> to_bits() const {
    std::vector<std::uint8_t> bits((flags_.size() + 7) / 8);
    for (std::size_t i = 0; i < flags_.size(); ++i) {
      if (flags_[i]) bits[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
    }
    return bits;
  }

  // Empty bits mean "none"; otherwise exactly ceil(chunks / 8) bytes with the
  // padding bits clear, or nullopt.
  static std::optional<chunk_set> from_bits(std::span<const std::uint8_t> bits,
                                            std::size_t chunks) {
    chunk_set s(chunks);
    if (bits.empty()) return s;
    if (bits.size() != (chunks + 7) / 8) return std::nullopt;
    for (std::size_t i = 0; i < bits.size() * 8; ++i) {
      const bool on = bits[i / 8] & (0x80u >> (i % 8));
      if (on && i >= chunks) return std::nullopt;
      if (on) s.set(i);
    }
    return s;
  }

 private:
  std::vector<bool> flags_;
  std::size_t count_ = 0;
};

}  // namespace peerlab::peer

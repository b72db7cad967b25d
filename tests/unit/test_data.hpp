#pragma once
// Test data and how to show it, shared by the unit tests (in namespace
// peerlab, so every test's own namespace sees them).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace peerlab {

inline constexpr std::size_t KiB = 1024;

// n bytes repeating with period 251, a prime: no chunk or piece of a
// power-of-two size repeats another. `seed` shifts the pattern.
inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed = 0) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>((i + seed) % 251);
  return out;
}

inline std::vector<std::uint8_t> bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace peerlab

#pragma once
// What every fuzz target shares: FUZZ_CHECK, and a deterministic way to cut
// one input into pieces (libFuzzer needs a target to behave the same on the
// same bytes, so the "random" splits are seeded by the bytes themselves).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

namespace peerlab::fuzz {

// Set by the corpus replay test, so a failed check names the input file.
inline const char* current_input = nullptr;

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, condition);
  if (current_input) std::fprintf(stderr, "  input: %s\n", current_input);
  std::abort();
}

// Piece sizes for feeding `total` bytes: all at once, one byte at a time, or
// pseudo-random pieces of 1..64 bytes seeded by the input.
enum class split { whole, bytewise, random };
inline constexpr split all_splits[] = {split::whole, split::bytewise, split::random};

inline std::vector<std::size_t> piece_sizes(std::span<const std::uint8_t> input, split how) {
  std::vector<std::size_t> sizes;
  const std::size_t total = input.size();
  if (how == split::whole) {
    sizes.push_back(total);
    return sizes;
  }
  // FNV-1a of the input seeds a 64-bit LCG (Knuth's MMIX constants).
  std::uint64_t state = 0xcbf29ce484222325u;
  for (const auto byte : input)
    state = (state ^ byte) * 0x100000001b3u;
  for (std::size_t done = 0; done < total;) {
    std::size_t n = 1;
    if (how == split::random) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      n = 1 + static_cast<std::size_t>((state >> 33) % 64);
    }
    n = n < total - done ? n : total - done;
    sizes.push_back(n);
    done += n;
  }
  return sizes;
}

}  // namespace peerlab::fuzz

#define FUZZ_CHECK(condition)         \
  ((condition) ? static_cast<void>(0) \
               : ::peerlab::fuzz::check_failed(#condition, __FILE__, __LINE__))

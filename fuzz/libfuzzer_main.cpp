// libFuzzer's entry point for one target: each fuzz executable compiles this
// file with PEERLAB_FUZZ_TARGET set to its function (fuzz/CMakeLists.txt).

#include <cstddef>
#include <cstdint>

#include "fuzz_targets.hpp"

#ifndef PEERLAB_FUZZ_TARGET
#error "PEERLAB_FUZZ_TARGET names the target function, e.g. fuzz_frame"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return peerlab::fuzz::PEERLAB_FUZZ_TARGET(data, size);
}

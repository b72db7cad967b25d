#pragma once
// Hashing a share is CPU-bound: the same work loop on one thread per core
// (this one included), each taking the next item until none is left.

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace peerlab::peer {

// Hashing threads at most, whatever the core count: each holds a read buffer
// of up to one chunk (4 MiB).
inline constexpr std::size_t max_hash_threads = 8;

// Runs work() on min(cores, max_threads) threads, this one among them, and
// returns once every one has returned.
template <class Work>
void on_every_core(std::size_t max_threads, Work& work) {
  const std::size_t threads =
      std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, max_threads);
  std::vector<std::jthread> workers;
  for (std::size_t t = 1; t < threads; ++t)
    workers.emplace_back([&work] { work(); });
  work();
}  // the workers join here

}  // namespace peerlab::peer

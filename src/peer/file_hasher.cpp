#include "peer/file_hasher.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <thread>

#include "peer/file_handle.hpp"
#include "peer/on_every_core.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;
using protocol::error;

protocol::result<file_hash_pass> hash_pass(int fd, std::uint64_t size, std::uint32_t chunk_size,
                                           bool with_chunk_hashes) {
  const std::size_t chunks = (size + chunk_size - 1) / chunk_size;
  const bt::piece_layout layout{size, chunk_size};
  file_hash_pass out;
  if (with_chunk_hashes) out.chunk_hashes.resize(chunks);
  std::vector<bt::range_hashes> ranges(chunks);
  // SHA is the bottleneck: one thread per core, thread t hashing chunks
  // t, t + n, t + 2n, … so that together they still read the file in order.
  const std::size_t threads =
      std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, max_hash_threads);
  std::atomic<bool> failed{false};
  {
    std::vector<std::jthread> workers;
    for (std::size_t t = 0; t < std::min(threads, chunks); ++t) {
      workers.emplace_back([&, t] {
        std::vector<std::uint8_t> buffer(chunk_size);
        for (std::size_t i = t; i < chunks && !failed; i += threads) {
          const auto offset = std::uint64_t{chunk_size} * i;
          const auto length =
              static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk_size, size - offset));
          if (!read_fully(fd, buffer.data(), offset, length)) {
            failed = true;
            return;
          }
          const std::span<const std::uint8_t> bytes{buffer.data(), length};
          if (with_chunk_hashes) out.chunk_hashes[i] = protocol::sha256(bytes);
          auto range = bt::range_hasher::create(layout, offset, length);
          std::optional<protocol::result<bt::range_hashes>> done;
          if (range) {
            range->update(bytes);
            done.emplace(range->finish());
          }
          if (!done || !*done) {
            failed = true;
            return;
          }
          ranges[i] = std::move(**done);
        }
      });
    }
  }  // joins the workers
  if (failed) return error{"it shrank or failed while hashing"};
  if (size > 0) {
    auto joined = bt::combine(layout, ranges);
    if (!joined) return error{"BitTorrent hashes: " + joined.error_message()};
    out.bt = std::move(*joined);
  }
  return out;
}

}  // namespace peerlab::peer

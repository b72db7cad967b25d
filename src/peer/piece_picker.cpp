#include "peer/piece_picker.hpp"

#include <algorithm>

namespace peerlab::peer {

piece_picker::piece_picker(std::size_t chunks, std::uint32_t seed)
    : availability_(chunks, 0), rng_(seed) {}

void piece_picker::add_availability(const chunk_set& peer_has) {
  for (std::size_t i = 0; i < availability_.size(); ++i)
    availability_[i] += peer_has.has(i);
}

void piece_picker::remove_availability(const chunk_set& peer_has) {
  for (std::size_t i = 0; i < availability_.size(); ++i) {
    if (peer_has.has(i) && availability_[i] > 0) --availability_[i];
  }
}

void piece_picker::add_availability(std::size_t chunk) {
  if (chunk < availability_.size()) ++availability_[chunk];
}

std::optional<std::size_t> piece_picker::pick(const chunk_set& peer_has, const chunk_set& we_have,
                                              const std::vector<std::uint8_t>& requested,
                                              const std::vector<bool>& requested_from_this_peer,
                                              std::uint8_t endgame_copies) {
  // Rarest first, ties broken at random (reservoir sampling over the ties) so
  // that downloaders spread over different chunks and can trade them. The
  // scan starts at a random place, and a chunk only this peer has cannot be
  // beaten: it is taken at once (with one seeder, a pick costs a few steps,
  // not a scan of every chunk). In a large file the scan goes on from the
  // last pick for a run of 1/64 of the file before jumping again: the
  // download is written in long sequential stretches, which the page cache
  // and the disk write back far faster than scattered chunks.
  const std::size_t n = availability_.size();
  if (run_left_ == 0) {
    next_ = n == 0 ? 0 : rng_() % n;
    run_left_ = std::max<std::size_t>(1, n / 64);
  }
  --run_left_;
  const auto best_among = [&](std::uint8_t max_requests) -> std::optional<std::size_t> {
    std::optional<std::size_t> best;
    std::uint32_t best_availability = 0;
    std::size_t ties = 0;
    const std::size_t start = next_;
    for (std::size_t k = 0, i = start; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
      if (we_have.has(i) || unwanted(i) || !peer_has.has(i) || requested[i] >= max_requests ||
          requested_from_this_peer[i]) {
        continue;
      }
      if (availability_[i] <= 1) {
        best = i;
        break;
      }
      if (!best || availability_[i] < best_availability) {
        best = i;
        best_availability = availability_[i];
        ties = 1;
      } else if (availability_[i] == best_availability && rng_() % ++ties == 0) {
        best = i;
      }
    }
    if (best) next_ = *best + 1 == n ? 0 : *best + 1;
    return best;
  };
  if (auto fresh = best_among(1)) return fresh;
  // Endgame only once no missing chunk is left unrequested anywhere.
  for (std::size_t i = 0; i < availability_.size(); ++i) {
    if (!we_have.has(i) && !unwanted(i) && requested[i] == 0) return std::nullopt;
  }
  return best_among(endgame_copies);
}

}  // namespace peerlab::peer

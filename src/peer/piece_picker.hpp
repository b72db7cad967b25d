#pragma once
// Which chunk to ask a peer for next: the rarest one it has that we still
// need, at most one request per chunk until the endgame, when the last chunks
// may be asked of a second peer so one slow peer cannot hold up the finish.
// Pure bookkeeping: unit-tested without sockets.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "peer/chunk_set.hpp"

namespace peerlab::peer {

class piece_picker {
 public:
  explicit piece_picker(std::size_t chunks, std::uint32_t seed = std::random_device{}());

  // How many peers have each chunk (the caller adds and removes their maps).
  void add_availability(const chunk_set& peer_has);
  void remove_availability(const chunk_set& peer_has);
  void add_availability(std::size_t chunk);
  // Chunks never to pick (a torrent's pieces that touch no file asked for
  // with --only); they do not hold up the endgame either.
  void set_unwanted(std::vector<bool> unwanted) { unwanted_ = std::move(unwanted); }
  std::size_t availability(std::size_t chunk) const { return availability_[chunk]; }

  // The next chunk to request from a peer that has `peer_has`, given what we
  // have and how many requests are out for each chunk; nullopt if nothing.
  // Outside the endgame a chunk is requested once; in the endgame (every
  // missing chunk already requested) up to `endgame_copies` times.
  std::optional<std::size_t> pick(const chunk_set& peer_has, const chunk_set& we_have,
                                  const std::vector<std::uint8_t>& requested,
                                  const std::vector<bool>& requested_from_this_peer,
                                  std::uint8_t endgame_copies = 2);

 private:
  bool unwanted(std::size_t i) const { return i < unwanted_.size() && unwanted_[i]; }

  std::vector<std::uint32_t> availability_;
  std::vector<bool> unwanted_;
  std::mt19937 rng_;
  std::size_t next_ = 0;      // where the next scan starts
  std::size_t run_left_ = 0;  // picks before it jumps to a random place
};

}  // namespace peerlab::peer

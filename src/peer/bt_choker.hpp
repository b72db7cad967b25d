#pragma once
// Which BitTorrent peers we upload to (BEP 3's choking): at most `slots`
// interested peers are unchoked at once. A free slot goes to the interested
// peer that has waited longest; every rotation the peer unchoked longest
// gives its slot to the one waiting longest (a round-robin "optimistic
// unchoke"), so with more peers than slots everyone gets turns. A seeder has
// no download rates to reward, so turns are all that fairness needs here.
// Pure bookkeeping over keys that are never reused (connection serials).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace peerlab::peer {

class bt_choker {
 public:
  using key = std::uint64_t;
  struct changes {
    std::vector<key> choke, unchoke;  // tell these peers so
  };

  explicit bt_choker(std::size_t slots) : slots_(slots) {}

  changes add_interest(key k);   // k is interested: unchoked now if a slot is free
  changes drop_interest(key k);  // not interested any more (or gone): its slot is freed
  changes rotate();              // one turn: the longest unchoked makes way for the longest waiting
  bool unchoked(key k) const;
  std::size_t waiting() const { return waiting_.size(); }

 private:
  changes fill();

  std::size_t slots_;
  std::deque<key> unchoked_;  // oldest unchoke first
  std::deque<key> waiting_;   // interested and choked, longest waiting first
};

}  // namespace peerlab::peer

#include "peer/bt_choker.hpp"

#include <algorithm>

namespace peerlab::peer {

namespace {
bool erase(std::deque<bt_choker::key>& keys, bt_choker::key k) {
  const auto it = std::find(keys.begin(), keys.end(), k);
  if (it == keys.end()) return false;
  keys.erase(it);
  return true;
}
}  // namespace

bool bt_choker::unchoked(key k) const {
  return std::find(unchoked_.begin(), unchoked_.end(), k) != unchoked_.end();
}

bt_choker::changes bt_choker::fill() {
  changes out;
  while (unchoked_.size() < slots_ && !waiting_.empty()) {
    unchoked_.push_back(waiting_.front());
    out.unchoke.push_back(waiting_.front());
    waiting_.pop_front();
  }
  return out;
}

bt_choker::changes bt_choker::add_interest(key k) {
  if (unchoked(k) || std::find(waiting_.begin(), waiting_.end(), k) != waiting_.end()) return {};
  waiting_.push_back(k);
  return fill();
}

bt_choker::changes bt_choker::drop_interest(key k) {
  erase(waiting_, k);
  if (!erase(unchoked_, k)) return {};
  return fill();
}

bt_choker::changes bt_choker::rotate() {
  if (waiting_.empty() || unchoked_.empty()) return fill();
  changes out;
  const auto longest = unchoked_.front();
  unchoked_.pop_front();
  out.choke.push_back(longest);
  auto more = fill();
  out.unchoke = std::move(more.unchoke);
  waiting_.push_back(longest);  // still interested: back of the line
  return out;
}

}  // namespace peerlab::peer

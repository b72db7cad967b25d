// The downloading half of a BitTorrent session: what the peer has, whether it
// lets us ask, and the block requests that fetch each piece the download
// asks of it (bt_session.hpp).

#include <algorithm>
#include <asio/post.hpp>

#include "peer/bt_download_events.hpp"
#include "peer/bt_seeder.hpp"
#include "peer/bt_session.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {
// Blocks we keep in flight to one peer at most, whatever queue it claims:
// 128 blocks are 2 MiB, enough for 160 MiB/s at a 12 ms round trip.
constexpr std::size_t max_blocks_in_flight = 128;
// Unrequested blocks (late after a cancel, or a peer that pushes data) we
// drop before deciding the peer is wasting our bandwidth on purpose.
constexpr std::size_t max_unasked_blocks = 1024;
// Choke / unchoke changes a peer may make in 10 s (a real client's choker
// changes its mind every 10 s or so).
constexpr std::size_t max_choke_changes_per_10s = 100;
}  // namespace

bool bt_session::leeching() const {
  const auto* item = owner_.store_.find(id_);
  return item && !item->complete;
}

bool bt_session::on_their_pieces(const bt::message& m) {
  if (const auto* h = std::get_if<bt::have>(&m)) {
    if (h->piece >= theirs_.size()) {
      conn_->close("have for piece " + std::to_string(h->piece) + " past the end");
      return false;
    }
    if (!theirs_.set(h->piece)) return true;
    if (const auto* item = owner_.store_.find(id_); item && !item->have.has(h->piece)) ++wanted_;
    update_interest();
    if (source_ && owner_.events_) owner_.events_->bt_source_has(*this, h->piece);
    update_source();
    return true;
  }
  if (const auto* b = std::get_if<bt::bitfield>(&m)) {
    auto bits = chunk_set::from_bits(b->bits, theirs_.size());
    if (!bits || b->bits.empty()) {
      conn_->close("bitfield of the wrong size");
      return false;
    }
    theirs_ = std::move(*bits);
  } else if (std::holds_alternative<bt::have_all>(m) || std::holds_alternative<bt::have_none>(m)) {
    if (!fast_) {
      conn_->close("have all / have none without the fast extension");
      return false;
    }
    theirs_ = chunk_set(theirs_.size(), std::holds_alternative<bt::have_all>(m));
  }
  count_wanted();
  update_interest();
  if (source_ && owner_.events_) owner_.events_->bt_source_ready(*this);
  update_source();
  return true;
}

void bt_session::count_wanted() {
  wanted_ = 0;
  const auto* item = owner_.store_.find(id_);
  if (!item || item->complete) return;
  for (std::size_t i = 0; i < theirs_.size(); ++i)
    if (theirs_.has(i) && !item->have.has(i)) ++wanted_;
}

void bt_session::update_interest() {
  const bool want = wanted_ > 0 && leeching();
  if (want == am_interested_) return;
  am_interested_ = want;
  write(want ? bt::message{bt::interested{}} : bt::message{bt::not_interested{}});
}

void bt_session::update_source() {
  const bool should = am_interested_ && !choking_us_ && conn_->is_open() && leeching();
  if (source_ || should) last_useful_ = std::chrono::steady_clock::now();
  if (should == source_) return;
  source_ = should;
  if (!source_) drop_incoming();
  if (owner_.events_) {
    if (source_) {
      owner_.events_->bt_source_ready(*this);
    } else {
      owner_.events_->bt_source_gone(*this);
    }
  }
}

void bt_session::on_choked_by_them(bool choked) {
  if (choked == choking_us_) return;
  // Each change re-plans the download's requests: a peer flapping between
  // choke and unchoke would keep us busy doing just that.
  const auto now = std::chrono::steady_clock::now();
  if (now - choke_window_start_ > std::chrono::seconds(10)) {
    choke_window_start_ = now;
    chokes_in_window_ = 0;
  }
  if (++chokes_in_window_ > max_choke_changes_per_10s) {
    conn_->close("choked and unchoked us more than " + std::to_string(max_choke_changes_per_10s) +
                 " times in 10 s");
    return;
  }
  choking_us_ = choked;
  // Choked, the requests we made are void (BEP 6 peers say so piece by
  // piece; others do not): the download asks again, here or elsewhere.
  if (choked) drop_incoming();
  update_source();
}

void bt_session::on_our_piece(std::uint32_t piece) {
  if (!info_ || !conn_->is_open()) return;
  if (theirs_.has(piece) && wanted_ > 0) --wanted_;
  write(bt::have{piece});
  update_interest();
  update_source();
}

void bt_session::leave() {
  drop_incoming();
  if (!source_) return;
  source_ = false;
  if (owner_.events_) owner_.events_->bt_source_gone(*this);
}

void bt_session::request(const protocol::content_id& id, std::uint32_t piece) {
  if (id != id_ || !source_ || piece >= theirs_.size() || incoming_.contains(piece)) return;
  const auto size = bt::piece_layout{info_->size, info_->piece_length}.piece_size(piece);
  if (owner_.incoming_bytes_ + size > owner_.settings_.max_incoming_bytes) {
    // Memory for pieces in flight is spent: turned down, after the caller
    // (the download, filling its window) is done.
    asio::post(owner_.io_, [&owner = owner_, key = key(), piece] {
      if (auto* s = owner.session(key); s && owner.events_) owner.events_->bt_rejected(*s, piece);
    });
    return;
  }
  owner_.incoming_bytes_ += size;
  auto& in = incoming_[piece];
  in.data.resize(size);
  for (std::uint32_t begin = 0; begin < size; begin += bt::block_bytes) {
    unsent_.push_back({piece, begin, std::min<std::uint32_t>(bt::block_bytes, size - begin)});
    ++in.missing;
  }
  pump();
}

void bt_session::cancel(const protocol::content_id& id, std::uint32_t piece) {
  const auto it = incoming_.find(piece);
  if (id != id_ || it == incoming_.end()) return;
  owner_.incoming_bytes_ -= it->second.data.size();
  incoming_.erase(it);
  std::erase_if(unsent_, [&](const bt::request& q) { return q.piece == piece; });
  for (auto it = asked_.lower_bound({piece, 0}); it != asked_.end() && it->first == piece;) {
    const auto size = bt::piece_layout{info_->size, info_->piece_length}.piece_size(piece);
    const auto length = std::min<std::uint32_t>(bt::block_bytes, size - it->second);
    write(bt::cancel{piece, it->second, length});
    it = asked_.erase(it);
  }
}

void bt_session::pump() {
  const auto room = std::min(their_queue_, max_blocks_in_flight);
  while (!unsent_.empty() && asked_.size() < room && conn_->is_open()) {
    const auto q = unsent_.front();
    unsent_.pop_front();
    asked_.insert({q.piece, q.begin});
    write(q);
  }
}

bool bt_session::on_piece(bt::piece& p) {
  if (asked_.erase({p.index, p.begin}) == 0) {
    // Crossed our cancel or our choke: dropped. Many of them in a row is a
    // peer sending what nobody asked for.
    if (++unasked_blocks_ > max_unasked_blocks) {
      conn_->close("too many blocks that were not requested");
      return false;
    }
    return true;
  }
  unasked_blocks_ = 0;
  const auto it = incoming_.find(p.index);
  if (it == incoming_.end()) return true;
  auto& in = it->second;
  const auto expected = std::min<std::size_t>(bt::block_bytes, in.data.size() - p.begin);
  if (p.data.size() != expected) {
    conn_->close("block of the wrong length: " + bt::describe(p));
    return false;
  }
  std::copy(p.data.begin(), p.data.end(), in.data.begin() + p.begin);
  if (--in.missing > 0) return true;
  owner_.incoming_bytes_ -= in.data.size();
  auto data = std::move(in.data);
  incoming_.erase(it);
  if (owner_.events_) owner_.events_->bt_piece(*this, p.index, std::move(data));
  return true;
}

void bt_session::on_rejected(const bt::reject_request& r) {
  if (asked_.erase({r.piece, r.begin}) == 0) return;
  // The rest of the piece is worth nothing without this block.
  cancel(id_, r.piece);
  if (owner_.events_) owner_.events_->bt_rejected(*this, r.piece);
}

void bt_session::drop_incoming() {
  for (const auto& [piece, in] : incoming_)
    owner_.incoming_bytes_ -= in.data.size();
  incoming_.clear();
  unsent_.clear();
  asked_.clear();
}

}  // namespace peerlab::peer

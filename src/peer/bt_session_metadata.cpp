// A magnet link names a torrent by its info-hash alone: the info dictionary
// comes from the peers (BEP 9), 16 KiB at a time, and counts only once it
// hashes to the magnet's info-hash. Until then a session offers nothing and
// keeps what the peer says it has for later (bt_session.hpp).

#include "peer/bt_download_events.hpp"
#include "peer/bt_seeder.hpp"
#include "peer/bt_session.hpp"
#include "protocol/bt_extension.hpp"
#include "protocol/bt_merkle.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {
// have messages kept before we know the piece count: one per piece at most
// matters, and a peer sending more is not one we need.
constexpr std::size_t max_early_messages = 4096;
}  // namespace

bool bt_session::on_magnet_message(bt::message& m) {
  if (const auto* q = std::get_if<bt::extended>(&m)) return on_extended(*q);
  if (auto* h = std::get_if<bt::hashes>(&m)) {
    if (owner_.events_) owner_.events_->bt_hashes(*this, std::move(*h));
    return true;
  }
  if (const auto* r = std::get_if<bt::hash_reject>(&m)) {
    if (owner_.events_)
      owner_.events_->bt_hashes(*this, bt::hashes{r->root, r->base, r->index, r->count, 0, {}});
    return true;
  }
  if (std::holds_alternative<bt::have>(m) || std::holds_alternative<bt::bitfield>(m) ||
      std::holds_alternative<bt::have_all>(m) || std::holds_alternative<bt::have_none>(m)) {
    if (their_pieces_early_.size() >= max_early_messages) {
      conn_->close("too many have messages before the metadata");
      return false;
    }
    their_pieces_early_.push_back(std::move(m));
    return true;
  }
  if (std::holds_alternative<bt::choke>(m)) choking_us_ = true;
  if (std::holds_alternative<bt::unchoke>(m)) choking_us_ = false;
  if (const auto* q = std::get_if<bt::request>(&m); q && fast_)
    write(bt::reject_request{q->piece, q->begin, q->length});
  return true;  // nothing else means anything before we know the torrent
}

void bt_session::offer_metadata(std::uint64_t size) {
  if (size > bt::max_metadata_bytes) return conn_->close("metadata larger than we accept");
  metadata_offered_ = size;
  if (owner_.may_fetch_metadata(wire_id_)) ask_metadata();
}

bool bt_session::ask_metadata() {
  if (!fetching_metadata() || !metadata_.empty() || metadata_offered_ == 0 || !conn_->is_open())
    return false;
  const auto size = metadata_offered_;
  metadata_.resize(size);
  metadata_missing_ = bt::metadata_piece_count(size);
  for (std::uint32_t i = 0; i < metadata_missing_; ++i) {
    write(bt::extended{their_metadata_id_,
                       bt::encode_metadata_message({bt::metadata_type::request, i, 0, {}})});
  }
  return true;
}

void bt_session::on_metadata_data(const bt::extended& m) {
  auto q = bt::decode_metadata_message(m.payload, metadata_.size());
  if (!q) return conn_->close("bad metadata message: " + q.error_message());
  if (q->type == bt::metadata_type::request) {
    // We have none to give yet.
    write(bt::extended{their_metadata_id_,
                       bt::encode_metadata_message({bt::metadata_type::reject, q->piece, 0, {}})});
    return;
  }
  if (q->type == bt::metadata_type::reject) return conn_->close("the peer refused the metadata");
  if (metadata_.empty() || q->total_size != metadata_.size() || metadata_missing_ == 0) return;
  const auto from = std::size_t{q->piece} * bt::metadata_piece_bytes;
  if (from >= metadata_.size()) return conn_->close("metadata piece past the end");
  std::copy(q->data.begin(), q->data.end(), metadata_.begin() + static_cast<std::ptrdiff_t>(from));
  if (--metadata_missing_ > 0) return;
  // The info-hash proves the bytes: SHA-1 for btih, SHA-256 (truncated on
  // the wire) for btmh.
  const bool v1 = bt::sha1(metadata_) == wire_id_;
  const bool v2 = bt::info_hashes::truncate(bt::sha256_of(metadata_)) == wire_id_;
  if (!v1 && !v2) {
    metadata_.clear();
    return owner_.ban(*this, "sent metadata that does not match the info-hash");
  }
  if (owner_.events_) owner_.events_->bt_metadata(wire_id_, std::move(metadata_));
  metadata_.clear();
}

void bt_session::ask_hashes(const bt::sha256_digest& root, std::uint32_t base, std::uint32_t index,
                            std::uint32_t count) {
  if (conn_->is_open()) write(bt::hash_request{root, base, index, count, 0});
}

void bt_session::adopt() {
  if (!fetching_metadata()) return;
  const auto match = owner_.store_.find_bt(wire_id_);
  if (!match) return;
  id_ = match->item->id;
  info_ = match->item->bt;
  format_ = match->format;
  theirs_ = chunk_set(piece_count());
  wanted_ = 0;
  owner_.uploader_.add_peer(conn_->serial(), conn_, this);
  // We said we have nothing (or nothing at all, without BEP 6): what we get
  // from now on goes out as `have`s.
  auto early = std::move(their_pieces_early_);
  their_pieces_early_.clear();
  for (auto& message : early)
    if (!on_their_pieces(message)) return;
  update_interest();
  update_source();
}

}  // namespace peerlab::peer

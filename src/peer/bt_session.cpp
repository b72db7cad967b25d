#include "peer/bt_session.hpp"

#include <algorithm>
#include <array>

#include "peer/bt_seeder.hpp"
#include "protocol/bt_extension.hpp"
#include "protocol/hex.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {

constexpr std::uint8_t our_metadata_id = 1;  // ut_metadata, as our extension handshake names it
constexpr std::uint8_t our_pex_id = 2;       // ut_pex (BEP 11)
constexpr std::string_view client_name = "peerlab 0.1";

// Blocks of at most 16 KiB (we ask for no larger), bitfields for as many
// pieces as a torrent we accept has, no large extension messages.
bt::wire_limits session_limits() {
  bt::wire_limits l;
  l.max_block_bytes = bt::block_bytes;
  l.max_bitfield_bytes = bt::max_pieces / 8 + 1;
  l.max_extended_bytes = 64 * 1024;
  l.max_hashes = 512 + 64;  // a piece layer is asked for 512 hashes at a time
  return l;
}

// Message names for the trace, in the order of bt::message's alternatives.
constexpr std::array<const char*, 22> type_names = {
    "handshake",    "keepalive", "choke",       "unchoke",        "interested",   "not interested",
    "have",         "bitfield",  "request",     "piece",          "cancel",       "port",
    "suggest",      "have all",  "have none",   "reject request", "allowed fast", "extended",
    "hash request", "hashes",    "hash reject", "unknown"};

}  // namespace

bt_session::bt_session(bt_seeder& owner, std::shared_ptr<connection> c,
                       std::optional<bt::sha1_digest> dialed_for)
    : owner_(owner),
      conn_(std::move(c)),
      dialed_for_(dialed_for),
      label_("bt " + protocol::to_string(conn_->remote())),
      decoder_(true, session_limits()) {}

std::uint64_t bt_session::piece_count() const {
  return bt::piece_layout{info_->size, info_->piece_length}.piece_count();
}

asio::awaitable<void> bt_session::run() {
  if (dialed_for_) send_handshake(*dialed_for_);  // the side that dialed speaks first
  // Small reads land here; the decoder copies what it keeps (≤ its limits).
  std::vector<std::uint8_t> buffer(16 * 1024);
  while (conn_->is_open()) {
    auto next = decoder_.next();
    if (!next) {
      conn_->close("bad BitTorrent message: " + next.error_message());
      break;
    }
    if (*next) {
      trace(false, **next, 0);
      if (!handle(**next)) break;
      continue;
    }
    pump();
    const auto direct = decoder_.direct_space();
    const auto n = co_await conn_->read_raw(direct.empty() ? std::span(buffer) : direct);
    if (n == 0) break;
    if (direct.empty()) {
      decoder_.feed({buffer.data(), n});
    } else {
      decoder_.commit_direct(n);
    }
  }
}

bool bt_session::handle(bt::message& m) {
  if (const auto* h = std::get_if<bt::handshake>(&m)) return on_handshake(*h);
  if (fetching_metadata()) return on_magnet_message(m);
  if (!info_) return false;  // the decoder always starts with the handshake
  if (std::holds_alternative<bt::interested>(m)) set_interested(true);
  if (std::holds_alternative<bt::not_interested>(m)) set_interested(false);
  if (std::holds_alternative<bt::choke>(m)) on_choked_by_them(true);
  if (std::holds_alternative<bt::unchoke>(m)) on_choked_by_them(false);
  if (const auto* q = std::get_if<bt::request>(&m)) return on_request(*q);
  if (const auto* q = std::get_if<bt::cancel>(&m)) on_cancel(*q);
  if (const auto* q = std::get_if<bt::extended>(&m)) return on_extended(*q);
  if (const auto* q = std::get_if<bt::hash_request>(&m)) on_hash_request(*q);
  if (auto* p = std::get_if<bt::piece>(&m)) return on_piece(*p);
  if (const auto* r = std::get_if<bt::reject_request>(&m)) on_rejected(*r);
  if (std::holds_alternative<bt::have>(m) || std::holds_alternative<bt::bitfield>(m) ||
      std::holds_alternative<bt::have_all>(m) || std::holds_alternative<bt::have_none>(m)) {
    return on_their_pieces(m);
  }
  // port, suggest, allowed fast and unknown ids mean nothing to us.
  return true;
}

void bt_session::send_handshake(const bt::sha1_digest& info_hash) {
  bt::handshake ours;
  ours.set_extension_protocol();
  ours.set_fast();
  ours.info_hash = info_hash;
  ours.id = owner_.own_id_;
  write(ours);
}

bool bt_session::on_handshake(const bt::handshake& h) {
  if (dialed_for_ && h.info_hash != *dialed_for_) {
    conn_->close("BitTorrent handshake for another torrent");
    return false;
  }
  if (h.id == owner_.own_id_) {
    conn_->close("connected to ourselves");
    return false;
  }
  wire_id_ = h.info_hash;
  peer_id_ = h.id;
  fast_ = h.fast();
  const auto match = owner_.store_.find_bt(h.info_hash);
  if (!match && owner_.wants_metadata(h.info_hash)) {
    // A magnet's: we can offer nothing yet but ask for its info dictionary.
    magnet_ = true;
    conn_->mark_raw_established(owner_.settings_.idle_timeout, bt::encode(bt::keepalive{}));
    if (!dialed_for_) send_handshake(h.info_hash);
    if (fast_) write(bt::have_none{});
    if (!h.extension_protocol()) {
      conn_->close("the peer cannot send metadata (no extension protocol)");
      return false;
    }
    bt::extension_handshake e;
    e.m = {{"ut_metadata", our_metadata_id}, {"ut_pex", our_pex_id}};
    e.client = client_name;
    e.reqq = owner_.settings_.max_queued_blocks;
    if (owner_.listen_port_ != 0) e.listen_port = owner_.listen_port_;
    write(bt::extended{0, bt::encode_extension_handshake(e)});
    return true;
  }
  if (!match) {
    conn_->close("BitTorrent handshake for an unknown info-hash " +
                 protocol::to_hex(h.info_hash).substr(0, 16));
    return false;
  }
  id_ = match->item->id;
  info_ = match->item->bt;
  format_ = match->format;
  theirs_ = chunk_set(piece_count());
  conn_->mark_raw_established(owner_.settings_.idle_timeout, bt::encode(bt::keepalive{}));
  if (!dialed_for_) send_handshake(h.info_hash);
  send_our_pieces();
  if (h.extension_protocol()) {
    bt::extension_handshake e;
    e.m = {{"ut_metadata", our_metadata_id}, {"ut_pex", our_pex_id}};
    e.client = client_name;
    e.metadata_size = info_->of(format_).info_bytes.size();
    e.reqq = owner_.settings_.max_queued_blocks;
    if (owner_.listen_port_ != 0) e.listen_port = owner_.listen_port_;
    e.yourip = protocol::endpoint{conn_->remote().family, conn_->remote().ip, 0};
    write(bt::extended{0, bt::encode_extension_handshake(e)});
  }
  owner_.uploader_.add_peer(conn_->serial(), conn_, this);
  return true;
}

void bt_session::send_our_pieces() {
  // What we have comes first: BEP 3 allows a bitfield only right after the
  // handshake (Transmission closes the connection otherwise).
  const auto* item = owner_.store_.find(id_);
  const bool all = !item || item->complete;
  const bool none = item && !item->complete && item->have.count() == 0;
  if (fast_ && all) return write(bt::have_all{});
  if (fast_ && none) return write(bt::have_none{});
  if (none) return;  // without BEP 6, saying nothing says we have nothing
  if (all) {
    // Every piece, most significant bit first; the spare bits stay zero.
    const auto pieces = piece_count();
    bt::bitfield bits{std::vector<std::uint8_t>((pieces + 7) / 8, 0xff)};
    if (pieces % 8) bits.bits.back() = static_cast<std::uint8_t>(0xff << (8 - pieces % 8));
    return write(bits);
  }
  write(bt::bitfield{item->have.to_bits()});
}

void bt_session::set_interested(bool interested) {
  if (interested == interested_) return;
  interested_ = interested;
  const auto key = conn_->serial();
  owner_.apply(interested ? owner_.choker_.add_interest(key) : owner_.choker_.drop_interest(key));
}

void bt_session::set_choked(bool choked) {
  if (choked == choked_) return;
  choked_ = choked;
  if (choked) {
    drop_requests();
    write(bt::choke{});
  } else {
    write(bt::unchoke{});
  }
}

bool bt_session::on_request(const bt::request& q) {
  const bt::piece_layout layout{info_->size, info_->piece_length};
  // A v2 torrent pads its file to whole pieces (libtorrent asks for the
  // zeros past its end); v1 and hybrid pieces end with the file.
  const auto piece_bytes =
      format_ == bt::torrent_format::v2 ? info_->piece_length : layout.piece_size(q.piece);
  if (q.piece >= layout.piece_count() || q.length == 0 ||
      std::uint64_t{q.begin} + q.length > piece_bytes) {
    conn_->close("request out of range: " + bt::describe(q));
    return false;
  }
  // We advertise reqq (max_queued_blocks); twice that unanswered is a flood.
  if (pending_blocks_ >= 2 * std::size_t{owner_.settings_.max_queued_blocks}) {
    conn_->close("request flood: " + std::to_string(pending_blocks_) + " requests queued");
    return false;
  }
  if (choked_) {
    // BEP 6 says so explicitly; without it, a choked peer's requests are void.
    if (fast_) write(bt::reject_request{q.piece, q.begin, q.length});
    return true;
  }
  auto& blocks = pending_[q.piece];
  if (std::find(blocks.begin(), blocks.end(), q) != blocks.end()) return true;
  blocks.push_back(q);
  ++pending_blocks_;
  submit(q.piece);
  return true;
}

void bt_session::on_cancel(const bt::cancel& q) {
  const auto it = pending_.find(q.piece);
  if (it == pending_.end()) return;
  const auto block =
      std::find(it->second.begin(), it->second.end(), bt::request{q.piece, q.begin, q.length});
  if (block == it->second.end()) return;
  it->second.erase(block);
  --pending_blocks_;
  if (!it->second.empty()) return;
  pending_.erase(it);
  if (submitted_.erase(q.piece) > 0) owner_.uploader_.on_cancel(conn_->serial(), {id_, q.piece});
}

void bt_session::submit(std::uint32_t piece) {
  if (!submitted_.insert(piece).second) return;
  owner_.uploader_.on_request(conn_->serial(), {id_, piece});
}

void bt_session::reject(const protocol::request& r) {
  submitted_.erase(r.index);
  const auto it = pending_.find(r.index);
  if (it == pending_.end()) return;
  // Declined (others wait for pieces nobody has yet): asked again, it is
  // served next time (upload_scheduler); a BitTorrent peer has no one else
  // to ask here.
  if (!choked_ && conn_->is_open() && retried_.insert(r.index).second) return submit(r.index);
  retried_.erase(r.index);
  for (const auto& q : it->second)
    if (fast_) write(bt::reject_request{q.piece, q.begin, q.length});
  pending_blocks_ -= it->second.size();
  pending_.erase(it);
}

void bt_session::send(const protocol::request& r, const std::vector<file_part>& parts) {
  submitted_.erase(r.index);
  retried_.erase(r.index);
  const auto it = pending_.find(r.index);
  if (it == pending_.end()) return;
  for (const auto& q : it->second) {
    auto head = bt::encode_piece_head(q.piece, q.begin, q.length);
    if (owner_.trace_) {
      owner_.trace_->record(*conn_, true, "bt piece",
                            "bt piece #" + std::to_string(q.piece) + " +" +
                                std::to_string(q.begin) + " " + std::to_string(q.length),
                            head.size() + q.length, client_);
    }
    // The block from the parts it spans: sendfile for file bytes, zeros for
    // pads and for what lies past the parts (a v2 torrent pads its last
    // file to a whole piece). The head goes out with the first of them.
    std::vector<std::uint8_t> pending_head(head.begin(), head.end());
    std::uint64_t part_start = 0;  // of the current part, in the piece
    std::uint64_t at = q.begin;    // next byte of the block, in the piece
    const std::uint64_t end = std::uint64_t{q.begin} + q.length;
    for (const auto& part : parts) {
      const auto part_end = part_start + part.length;
      if (at < part_end && at < end) {
        const auto n = std::min(part_end, end) - at;
        const auto from = part.offset + (at - part_start);
        if (part.file) {
          conn_->send_raw_file(std::move(pending_head), part.file, from, n);
        } else {
          pending_head.resize(pending_head.size() + n, 0);
          conn_->send_raw(std::move(pending_head));
        }
        pending_head.clear();
        at += n;
      }
      part_start = part_end;
      if (at >= end) break;
    }
    if (at < end || !pending_head.empty()) {
      pending_head.resize(pending_head.size() + (end - at), 0);
      conn_->send_raw(std::move(pending_head));
    }
  }
  pending_blocks_ -= it->second.size();
  pending_.erase(it);
}

void bt_session::drop_requests() {
  for (const auto& [piece, blocks] : pending_) {
    for (const auto& q : blocks)
      if (fast_) write(bt::reject_request{q.piece, q.begin, q.length});
    if (submitted_.contains(piece)) owner_.uploader_.on_cancel(conn_->serial(), {id_, piece});
  }
  pending_.clear();
  submitted_.clear();
  retried_.clear();
  pending_blocks_ = 0;
}

bool bt_session::on_extended(const bt::extended& m) {
  if (m.id == our_metadata_id) {
    if (fetching_metadata()) {
      on_metadata_data(m);
    } else {
      on_metadata(m);
    }
    return true;
  }
  if (m.id == our_pex_id) return on_pex(m);
  if (m.id != 0) return true;  // an extension we did not offer: ignored
  auto h = bt::decode_extension_handshake(m.payload);
  if (!h) {
    conn_->close("bad extension handshake: " + h.error_message());
    return false;
  }
  client_ = protocol::printable_name(h->client);
  their_metadata_id_ = h->id_of("ut_metadata");
  their_pex_id_ = h->id_of("ut_pex");
  if (h->listen_port && *h->listen_port != 0) listen_port_ = *h->listen_port;
  if (h->reqq) their_queue_ = std::max<std::size_t>(1, *h->reqq);
  if (fetching_metadata()) {
    if (their_metadata_id_ == 0 || !h->metadata_size || *h->metadata_size == 0) {
      conn_->close("the peer offers no metadata");
      return false;
    }
    offer_metadata(*h->metadata_size);
  }
  return true;
}

void bt_session::on_metadata(const bt::extended& m) {
  const auto& info_bytes = info_->of(format_).info_bytes;
  auto q = bt::decode_metadata_message(m.payload, info_bytes.size());
  if (!q || q->type != bt::metadata_type::request || their_metadata_id_ == 0) return;
  bt::metadata_message answer{bt::metadata_type::reject, q->piece, 0, {}};
  if (q->piece < bt::metadata_piece_count(info_bytes.size())) {
    const auto from = std::size_t{q->piece} * bt::metadata_piece_bytes;
    const auto to = std::min<std::size_t>(from + bt::metadata_piece_bytes, info_bytes.size());
    answer = {bt::metadata_type::data, q->piece, info_bytes.size(),
              std::vector<std::uint8_t>(info_bytes.begin() + static_cast<std::ptrdiff_t>(from),
                                        info_bytes.begin() + static_cast<std::ptrdiff_t>(to))};
  }
  write(bt::extended{their_metadata_id_, bt::encode_metadata_message(answer)});
}

void bt_session::on_hash_request(const bt::hash_request& q) {
  // We answer for the piece layer, which a v2 peer with only the info dict
  // (a magnet link) needs; block-layer hashes would need the file read.
  const bt::piece_layout layout{info_->size, info_->piece_length};
  const auto piece_layer = bt::log2_exact(layout.blocks_per_piece());
  // One file's tree, or (a multi-file torrent) the tree of the file with that root.
  const auto* tree = q.root == info_->hashes.pieces_root ? &info_->piece_tree : nullptr;
  if (const auto it = info_->file_piece_trees.find(q.root); it != info_->file_piece_trees.end())
    tree = &it->second;
  if (format_ != bt::torrent_format::v1 && tree && !tree->empty() && q.base == piece_layer) {
    auto values = bt::merkle_hashes_for_request(*tree, q.index, q.count, q.proof_layers);
    if (values) {
      return write(
          bt::hashes{q.root, q.base, q.index, q.count, q.proof_layers, std::move(*values)});
    }
  }
  write(bt::hash_reject{q.root, q.base, q.index, q.count, q.proof_layers});
}

void bt_session::write(const bt::message& m) {
  auto bytes = bt::encode(m);
  trace(true, m, bytes.size());
  conn_->send_raw(std::move(bytes));
}

void bt_session::trace(bool sent, const bt::message& m, std::size_t bytes) {
  if (!owner_.trace_) return;
  if (!sent) bytes = bt::encode(m).size();  // small: a seeder receives no blocks
  owner_.trace_->record(*conn_, sent, std::string("bt ") + type_names.at(m.index()),
                        "bt " + bt::describe(m), bytes, client_);
}

}  // namespace peerlab::peer

#pragma once
// One BitTorrent peer, from its handshake on (BEP 3, with BEP 6 fast, BEP 10
// extensions, BEP 9 ut_metadata and BEP 52 hash requests). The lecture's
// shape: a read loop feeds the wire decoder, each message is handled, and
// answers are queued on the connection's writer. Both directions at once:
// - seeding: requests for blocks are grouped by piece (= peerlab chunk) and
//   handed to the uploader, which gives the piece its turn once the socket
//   can take it;
// - downloading (a torrent the store holds in part, bt_session_leech.cpp):
//   while the peer unchokes us it is a chunk_source; a requested piece goes
//   out as 16 KiB block requests (no more in flight than the peer queues)
//   and comes back to the swarm whole.

#include <asio/awaitable.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "peer/bt_info.hpp"
#include "peer/chunk_set.hpp"
#include "peer/chunk_source.hpp"
#include "peer/connection.hpp"
#include "peer/uploader.hpp"
#include "protocol/bt_wire.hpp"
#include "protocol/bt_wire_decoder.hpp"

namespace peerlab::peer {

class bt_seeder;

class bt_session final : public upload_sink, public chunk_source {
 public:
  // `dialed_for`: we dialed the peer for this info-hash (we speak first);
  // nullopt: it dialed us.
  bt_session(bt_seeder& owner, std::shared_ptr<connection> c,
             std::optional<protocol::bt::sha1_digest> dialed_for = std::nullopt);

  // Reads and handles messages until the connection closes.
  asio::awaitable<void> run();
  void set_choked(bool choked);

  // upload_sink: the uploader's answers for a piece we handed it.
  void reject(const protocol::request& r) override;
  void send(const protocol::request& r, const std::vector<file_part>& parts) override;

  // chunk_source: the download asks for whole pieces.
  std::uint64_t key() const override { return conn_->serial(); }
  const std::string& name() const override { return label_; }
  void request(const protocol::content_id& id, std::uint32_t piece) override;
  void cancel(const protocol::content_id& id, std::uint32_t piece) override;
  tcp_reading path() const override { return conn_->path(); }
  std::uint64_t bytes_received() const override { return conn_->bytes_received(); }

  // We verified a piece: the peer hears of it (and we may lose interest).
  void on_our_piece(std::uint32_t piece);
  // Its pieces, as far as it told us.
  const chunk_set& theirs() const { return theirs_; }
  // It unchoked us and we still want something: a source for the download.
  bool is_source() const { return source_; }
  // Gives us nothing and takes nothing: not a source (nor was for `for`),
  // and not interested in what we have.
  bool idle(std::chrono::steady_clock::duration for_,
            std::chrono::steady_clock::time_point now) const {
    return !source_ && !interested_ && now - last_useful_ >= for_;
  }

  const std::shared_ptr<connection>& conn() const { return conn_; }
  const std::string& client() const { return client_; }
  bool dialed() const { return dialed_for_.has_value(); }
  const protocol::bt::peer_id& peer_id() const { return peer_id_; }
  const std::shared_ptr<const bt_info>& info() const { return info_; }
  const protocol::content_id& content() const { return id_; }
  protocol::bt::torrent_format format() const { return format_; }
  bool ready() const { return info_ != nullptr; }
  // Where the peer accepts connections: the address we dialed, or its
  // address with the port its extension handshake named (none: unknown).
  std::optional<protocol::endpoint> listening() const;
  // BEP 11: tells the peer which peers of this torrent we are connected to
  // now that we were not when we last told it (and which we lost).
  void send_pex(const std::set<protocol::endpoint>& connected);
  // Ends the session's part in a download (closing, or the node stops).
  void leave();
  // A magnet's torrent whose metadata we fetched (from this session or
  // another) is in the store now: download it like any other.
  void adopt();
  // Past the handshake for a magnet whose metadata we still lack.
  bool fetching_metadata() const { return magnet_ && !info_; }
  // Whether it is fetching the metadata now.
  bool asking_metadata() const { return !metadata_.empty(); }
  // Asks it for the metadata it offered, if it did; false if it cannot.
  bool ask_metadata();
  // A v2 magnet's metadata is in, without the piece layer (BEP 52): asks
  // for `count` hashes of the layer `base` levels above the 16 KiB blocks
  // of the tree whose root is `root`, from `index` (one hash request).
  void ask_hashes(const protocol::bt::sha256_digest& root, std::uint32_t base, std::uint32_t index,
                  std::uint32_t count);
  const protocol::bt::sha1_digest& wire_id() const { return wire_id_; }

 private:
  bool handle(protocol::bt::message& m);
  bool on_handshake(const protocol::bt::handshake& h);
  void send_handshake(const protocol::bt::sha1_digest& info_hash);
  void send_our_pieces();
  bool on_request(const protocol::bt::request& q);
  void on_cancel(const protocol::bt::cancel& q);
  bool on_extended(const protocol::bt::extended& m);
  void on_metadata(const protocol::bt::extended& m);
  void on_hash_request(const protocol::bt::hash_request& q);
  void set_interested(bool interested);
  void submit(std::uint32_t piece);  // to the uploader, once per piece at a time
  void drop_requests();              // choked: pending requests are void
  void write(const protocol::bt::message& m);
  void trace(bool sent, const protocol::bt::message& m, std::size_t bytes);
  std::uint64_t piece_count() const;

  // A magnet's metadata (bt_session_metadata.cpp).
  bool on_magnet_message(protocol::bt::message& m);
  void offer_metadata(std::uint64_t size);  // the peer has it: ask, or wait our turn
  void on_metadata_data(const protocol::bt::extended& m);
  bool on_pex(const protocol::bt::extended& m);  // bt_session_pex.cpp

  // Downloading (bt_session_leech.cpp).
  bool leeching() const;  // the store holds this torrent in part
  bool on_their_pieces(const protocol::bt::message& m);
  void on_choked_by_them(bool choked);
  bool on_piece(protocol::bt::piece& p);
  void on_rejected(const protocol::bt::reject_request& r);
  void count_wanted();     // pieces they have that we lack
  void update_interest();  // interested in them iff they have a piece we lack
  void update_source();    // a source iff unchoked, interested, and known
  void drop_incoming();    // every piece being assembled is void
  void pump();             // sends queued block requests while the peer takes more

  bt_seeder& owner_;
  std::shared_ptr<connection> conn_;
  std::optional<protocol::bt::sha1_digest> dialed_for_;
  std::string label_;  // "bt ADDRESS:PORT"
  protocol::bt::wire_decoder decoder_;
  protocol::content_id id_{};
  std::shared_ptr<const bt_info> info_;
  protocol::bt::torrent_format format_ = protocol::bt::torrent_format::v1;
  protocol::bt::peer_id peer_id_{};
  std::string client_;
  bool fast_ = false;
  bool choked_ = true;
  bool interested_ = false;
  std::uint8_t their_metadata_id_ = 0;  // 0: they take no ut_metadata messages
  std::uint8_t their_pex_id_ = 0;       // 0: they take no ut_pex messages
  std::uint16_t listen_port_ = 0;       // from their extension handshake
  std::set<protocol::endpoint> told_;   // the peers our last ut_pex left them knowing
  std::chrono::steady_clock::time_point last_pex_in_{};
  std::map<std::uint32_t, std::vector<protocol::bt::request>> pending_;  // blocks by piece
  std::size_t pending_blocks_ = 0;
  std::set<std::uint32_t> submitted_;  // pieces waiting in the uploader
  std::set<std::uint32_t> retried_;    // declined once by the uploader, asked again

  // What we download from them.
  struct incoming_piece {
    std::vector<std::uint8_t> data;
    std::size_t missing = 0;  // blocks not yet in
  };
  chunk_set theirs_;
  std::size_t wanted_ = 0;  // of theirs_, pieces we lack
  bool am_interested_ = false;
  bool choking_us_ = true;
  bool source_ = false;
  std::chrono::steady_clock::time_point last_useful_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point choke_window_start_{};
  std::size_t chokes_in_window_ = 0;
  std::size_t their_queue_ = 250;  // block requests they take at once (their reqq)
  std::map<std::uint32_t, incoming_piece> incoming_;
  std::deque<protocol::bt::request> unsent_;                 // block requests waiting for room
  std::set<std::pair<std::uint32_t, std::uint32_t>> asked_;  // (piece, begin) in flight
  std::size_t unasked_blocks_ = 0;  // blocks that came unrequested (after a cancel, say)

  // A magnet's metadata, piece by piece (BEP 9), and what the peer said it
  // has meanwhile (replayed once we know how many pieces there are).
  protocol::bt::sha1_digest wire_id_{};
  bool magnet_ = false;
  std::uint64_t metadata_offered_ = 0;  // its size, as the peer's extension handshake says
  std::vector<std::uint8_t> metadata_;
  std::size_t metadata_missing_ = 0;
  std::vector<protocol::bt::message> their_pieces_early_;
};

}  // namespace peerlab::peer

#pragma once
// BitTorrent peers on the peer port: the node seeds every complete file it
// shares to BitTorrent clients (aria2, Transmission, libtorrent), under
// each of its info-hashes (v1, v2, hybrid), and downloads torrents from them.
// A connection whose first byte is 0x13 ("\x13BitTorrent protocol") comes
// here from the node's accept path; peers of a torrent we download (from its
// trackers) are dialed a few at a time. A bt_session speaks the wire
// protocol, the choker decides whom we upload to, and blocks go out through
// the same uploader (turns, rate limits, sendfile) as chunks to peerlab
// peers. Lives on the network thread.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "peer/bt_choker.hpp"
#include "peer/connection.hpp"
#include "peer/store.hpp"
#include "peer/trace.hpp"
#include "peer/uploader.hpp"
#include "protocol/bt_wire.hpp"

namespace peerlab::peer {

// What the dashboard and `peers --json` show of one BitTorrent peer.
struct bt_peer_info {
  std::string peer_id;  // hex
  std::string client;   // from its extension handshake's `v`, untrusted text
  std::string file;     // the name of what it fetches
  std::string format;   // v1 | v2 | hybrid: the torrent it named
  std::shared_ptr<connection> conn;
};

class bt_session;
class bt_download_events;

class bt_seeder {
 public:
  bt_seeder(asio::io_context& io, store& storage, uploader& up, bt_settings settings = {});
  ~bt_seeder();

  // Opens a TCP connection to a peer (nullptr if it failed): the node's, so
  // that it dials from our address with the node's limits and trace.
  using dialer = std::function<asio::awaitable<std::shared_ptr<connection>>(protocol::endpoint)>;

  void set_trace(trace_log* trace) { trace_ = trace; }
  void set_dialer(dialer d) { dialer_ = std::move(d); }
  void set_events(bt_download_events* events) { events_ = events; }
  const protocol::bt::peer_id& own_id() const { return own_id_; }
  // Our peer port: told to peers in the extension handshake (`p`), so that
  // those that we dialed can tell others where we listen (BEP 11).
  void set_listen_port(std::uint16_t port) { listen_port_ = port; }
  void start();
  void stop();  // closes every BitTorrent connection

  // Serves one inbound connection that opened with BitTorrent's handshake,
  // until it closes.
  asio::awaitable<void> serve(std::shared_ptr<connection> c);
  std::vector<bt_peer_info> peers() const;

  // Addresses of peers of the torrent with this info-hash (from its
  // trackers): dialed a few at a time, each once while it is known.
  void add_candidates(const protocol::bt::sha1_digest& wire_id,
                      const std::vector<protocol::endpoint>& peers);
  // No more dials for this torrent (its download ended or was dropped).
  void forget_candidates(const protocol::bt::sha1_digest& wire_id);
  // Dials again the peers of this torrent we were connected to and lost
  // (a download short of sources: a seeder restarted, a peer closed).
  void redial(const protocol::bt::sha1_digest& wire_id);
  // We verified a piece of `id`: its peers hear of it.
  void on_our_piece(const protocol::content_id& id, std::uint32_t piece);
  bt_session* session(std::uint64_t key);

  // Magnets: a session for one of these info-hashes fetches its info
  // dictionary (at most two at once per magnet: it may be 8 MiB).
  void want_metadata(const protocol::bt::sha1_digest& wire_id);
  bool wants_metadata(const protocol::bt::sha1_digest& wire_id) const {
    return metadata_wanted_.contains(wire_id);
  }
  bool may_fetch_metadata(const protocol::bt::sha1_digest& wire_id) const;
  // The torrent is in the store now (or given up): its sessions download it.
  void metadata_done(const protocol::bt::sha1_digest& wire_id);
  // Closes the session and refuses its address for a while.
  void ban(bt_session& s, const std::string& why);
  // The sessions fetching the metadata of this magnet (past their handshake).
  std::vector<bt_session*> sessions_asking(const protocol::bt::sha1_digest& wire_id) const;
  // The sessions (past their handshake) for content `id`.
  std::vector<bt_session*> sessions_for(const protocol::content_id& id) const;

 private:
  friend class bt_session;
  void apply(const bt_choker::changes& changes);
  asio::awaitable<void> rotate_loop();
  void exchange_peers();  // BEP 11 round: each session tells its peer of the others
  void drop_idle(std::chrono::steady_clock::time_point now);
  asio::awaitable<void> run_session(std::shared_ptr<connection> c,
                                    std::optional<protocol::bt::sha1_digest> dialed_for);
  void dial_some();
  asio::awaitable<void> dial(protocol::endpoint peer, protocol::bt::sha1_digest wire_id);
  bool is_banned(const protocol::endpoint& peer);

  // Peers to dial, per torrent: in order, and every address we queued,
  // dial or are connected to (so none is dialed twice at once).
  struct candidates {
    std::deque<protocol::endpoint> waiting;
    std::set<protocol::endpoint> known;
    std::size_t dialed = 0;                // dials in flight and sessions we dialed
    std::set<protocol::endpoint> reached;  // connected once (at most max_candidates)
  };

  asio::io_context& io_;
  store& store_;
  uploader& uploader_;
  bt_settings settings_;
  trace_log* trace_ = nullptr;
  protocol::bt::peer_id own_id_{};
  bt_choker choker_;
  std::map<std::uint64_t, bt_session*> sessions_;  // by connection serial
  bt_download_events* events_ = nullptr;
  dialer dialer_;
  std::map<protocol::bt::sha1_digest, candidates> candidates_;
  std::size_t half_open_ = 0;
  std::map<std::string, std::chrono::steady_clock::time_point> banned_until_;  // by IP
  std::set<protocol::bt::sha1_digest> metadata_wanted_;
  std::uint64_t incoming_bytes_ = 0;  // of every session's pieces being assembled
  std::uint16_t listen_port_ = 0;
  asio::steady_timer rotate_timer_;
  bool running_ = false;
};

}  // namespace peerlab::peer

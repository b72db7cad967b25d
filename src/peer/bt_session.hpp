#pragma once
// One BitTorrent peer, from its handshake on (BEP 3, with BEP 6 fast, BEP 10
// extensions, BEP 9 ut_metadata and BEP 52 hash requests). The lecture's
// shape: a read loop feeds the wire decoder, each message is handled, and
// answers are queued on the connection's writer. We only seed: requests for
// blocks are grouped by piece (= peerlab chunk) and handed to the uploader,
// which gives the piece its turn once the socket can take it.

#include <asio/awaitable.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "peer/bt_info.hpp"
#include "peer/connection.hpp"
#include "peer/uploader.hpp"
#include "protocol/bt_wire.hpp"
#include "protocol/bt_wire_decoder.hpp"

namespace peerlab::peer {

class bt_seeder;

class bt_session final : public upload_sink {
 public:
  bt_session(bt_seeder& owner, std::shared_ptr<connection> c);

  // Reads and handles messages until the connection closes.
  asio::awaitable<void> run();
  void set_choked(bool choked);

  // upload_sink: the uploader's answers for a piece we handed it.
  void reject(const protocol::request& r) override;
  void send(const protocol::request& r, std::shared_ptr<const file_handle> file,
            std::uint64_t offset) override;

  const std::shared_ptr<connection>& conn() const { return conn_; }
  const std::string& client() const { return client_; }
  const protocol::bt::peer_id& peer_id() const { return peer_id_; }
  const std::shared_ptr<const bt_info>& info() const { return info_; }
  protocol::bt::torrent_format format() const { return format_; }
  bool ready() const { return info_ != nullptr; }

 private:
  bool handle(protocol::bt::message& m);
  bool on_handshake(const protocol::bt::handshake& h);
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

  bt_seeder& owner_;
  std::shared_ptr<connection> conn_;
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
  std::map<std::uint32_t, std::vector<protocol::bt::request>> pending_;  // blocks by piece
  std::size_t pending_blocks_ = 0;
  std::set<std::uint32_t> submitted_;  // pieces waiting in the uploader
  std::set<std::uint32_t> retried_;    // declined once by the uploader, asked again
};

}  // namespace peerlab::peer

#pragma once
// The swarm's view of a connected peerlab peer (private to src/peer/swarm*.cpp).

#include <set>
#include <string>

#include "peer/chunk_source.hpp"
#include "peer/connection.hpp"
#include "peer/swarm.hpp"
#include "protocol/hex.hpp"

namespace peerlab::peer {

// A connected peerlab peer: what a download needs of it goes over its
// connection as `request` and `cancel` messages.
class swarm::peer final : public chunk_source {
 public:
  explicit peer(std::shared_ptr<connection> c)
      : conn(std::move(c)),
        id(conn->peer_hello()->id),
        label(conn->peer_hello()->name.empty() ? protocol::to_hex(id).substr(0, 8)
                                               : conn->peer_hello()->name) {}

  std::uint64_t key() const override { return conn->serial(); }
  const std::string& name() const override { return label; }
  void request(const protocol::content_id& c, std::uint32_t index) override {
    conn->send(protocol::request{c, index});
  }
  void cancel(const protocol::content_id& c, std::uint32_t index) override {
    conn->send(protocol::cancel{c, index});
  }
  tcp_reading path() const override { return conn->path(); }
  std::uint64_t bytes_received() const override { return conn->bytes_received(); }

  std::shared_ptr<connection> conn;
  protocol::node_id id;
  std::string label;
  std::set<protocol::content_id> subscribed;  // asked for our chunk map: gets `have`s
};

}  // namespace peerlab::peer

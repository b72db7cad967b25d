// What a node reports about itself for the API and the dashboard: its
// status, its connections and the peers it knows. Part of class node
// (node.hpp).

#include "peer/node.hpp"
#include "protocol/hex.hpp"

namespace peerlab::peer {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

node_status node::status() const {
  node_status s{};
  s.id = protocol::to_hex(id_);
  s.name = settings_.name;
  s.listen = listen_;
  s.lan_discovery = beacon_on_;
  s.connections = established_.size();
  s.handshakes = handshaking_.size();
  s.known_peers = table_.size();
  s.bytes_sent = closed_bytes_sent_;
  s.bytes_received = closed_bytes_received_;
  for (const auto& c : handshaking_) {
    s.bytes_sent += c->bytes_sent();
    s.bytes_received += c->bytes_received();
  }
  for (const auto& [id, c] : established_) {
    s.bytes_sent += c->bytes_sent();
    s.bytes_received += c->bytes_received();
  }
  for (const auto& p : swarm_.bittorrent().peers()) {
    s.bytes_sent += p.conn->bytes_sent();
    s.bytes_received += p.conn->bytes_received();
  }
  s.uptime_seconds = seconds_since(started_at_);
  return s;
}

std::vector<connection_info> node::connections() const {
  std::vector<connection_info> out;
  for (const auto& [id, c] : established_) {
    out.push_back({protocol::to_hex(id), c->peer_hello()->name, c->advertised(), c->dir(),
                   c->local(), c->remote(), c->bytes_sent(), c->bytes_received(),
                   seconds_since(c->connected_at()), c->queued_bytes(), c->kernel_queues()});
  }
  for (const auto& p : swarm_.bittorrent().peers()) {
    const auto& c = p.conn;
    out.push_back({p.peer_id, p.client, c->remote(), c->dir(), c->local(), c->remote(),
                   c->bytes_sent(), c->bytes_received(), seconds_since(c->connected_at()),
                   c->queued_bytes(), c->kernel_queues(), "bittorrent", p.client,
                   p.file + " (" + p.format + ")"});
  }
  return out;
}

std::vector<known_peer_info> node::known_peers() const {
  static constexpr const char* state_names[] = {"idle", "dialing", "connected", "self"};
  std::vector<known_peer_info> out;
  for (const auto& [address, e] : table_.entries()) {
    out.push_back({address, state_names[static_cast<int>(e.current)],
                   e.source == peer_table::origin::configured, e.failures});
  }
  return out;
}

}  // namespace peerlab::peer

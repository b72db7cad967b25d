// BEP 11 peer exchange: peers of a torrent tell each other whom they are
// connected to, so a swarm learns its members from its members as well as
// from its trackers. What a peer tells us is only a candidate to dial
// (bounded like a tracker's answer); what we tell is the peers we reach.

#include "peer/bt_seeder.hpp"
#include "peer/bt_session.hpp"
#include "protocol/bt_pex.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

namespace {
// BEP 11: at most one message a minute, 50 added and 50 dropped in each.
constexpr auto pex_min_gap = std::chrono::seconds(45);  // theirs: some slack
constexpr std::size_t pex_max_per_list = 50;
}  // namespace

std::optional<protocol::endpoint> bt_session::listening() const {
  if (dialed_for_) return conn_->remote();
  if (listen_port_ == 0) return std::nullopt;
  auto e = conn_->remote();
  e.port = listen_port_;
  return e;
}

bool bt_session::on_pex(const bt::extended& m) {
  const auto now = std::chrono::steady_clock::now();
  // More often than BEP 11 allows: ignored, not trusted to fill our lists.
  if (last_pex_in_ != std::chrono::steady_clock::time_point{} && now - last_pex_in_ < pex_min_gap)
    return true;
  last_pex_in_ = now;
  auto pex = bt::decode_pex(m.payload);
  if (!pex) {
    conn_->close("bad ut_pex message: " + pex.error_message());
    return false;
  }
  std::vector<protocol::endpoint> peers;
  for (const auto& p : pex->added) {
    // An address is worth dialing only if it means something from here (a
    // peer elsewhere cannot hand us its loopback).
    if (protocol::is_meaningful_to(p.address, conn_->remote())) peers.push_back(p.address);
    if (peers.size() >= pex_max_per_list) break;
  }
  if (!peers.empty()) owner_.add_candidates(wire_id_, peers);
  return true;
}

void bt_session::send_pex(const std::set<protocol::endpoint>& connected) {
  if (their_pex_id_ == 0 || !conn_->is_open()) return;
  const auto self = listening();
  bt::pex_message m;
  for (const auto& e : connected) {
    if (m.added.size() >= pex_max_per_list) break;
    if ((self && e == *self) || told_.contains(e)) continue;
    if (!protocol::is_meaningful_to(e, conn_->remote())) continue;
    m.added.push_back({e, bt::pex_reachable});
    told_.insert(e);
  }
  for (auto it = told_.begin(); it != told_.end() && m.dropped.size() < pex_max_per_list;) {
    if (connected.contains(*it)) {
      ++it;
      continue;
    }
    m.dropped.push_back(*it);
    it = told_.erase(it);
  }
  if (m.added.empty() && m.dropped.empty()) return;
  write(bt::extended{their_pex_id_, bt::encode_pex(m)});
}

}  // namespace peerlab::peer

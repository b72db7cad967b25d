#include "http/tracker_route.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "protocol/tracker.hpp"

namespace peerlab::http {

namespace bt = protocol::bt;

namespace {

response bencoded(const std::vector<std::uint8_t>& body) {
  response r;
  r.set_header("Content-Type", "text/plain");
  r.set_header("Cache-Control", "no-store");
  r.body.assign(body.begin(), body.end());
  return r;
}

response failure(std::string reason) {
  bt::announce_response a;
  a.failure_reason = std::move(reason);
  return bencoded(bt::encode_announce_response(a, true));
}

std::string_view query_of(const request& req) {
  const auto q = req.target.find('?');
  return q == std::string::npos ? std::string_view{} : std::string_view(req.target).substr(q + 1);
}

response announce(peer::tracker_table& table, const request& req,
                  const protocol::endpoint& peer_listen,
                  std::chrono::steady_clock::time_point now) {
  const auto parsed = bt::parse_announce_query(query_of(req));
  if (!parsed) return failure(parsed.error_message());
  // The peer is where the connection comes from, with the port it announced.
  protocol::endpoint peer = req.remote;
  peer.port = parsed->port;
  const auto self = self_peer_address(peer_listen, req.local, peer);
  auto answer = table.announce(*parsed, peer, self, now);
  if (parsed->no_peer_id) {
    for (auto& p : answer.peers)
      p.id.reset();
  }
  return bencoded(bt::encode_announce_response(answer, parsed->compact));
}

response scrape(peer::tracker_table& table, const request& req,
                std::chrono::steady_clock::time_point now) {
  const auto hashes = bt::parse_scrape_query(query_of(req));
  if (!hashes) return failure(hashes.error_message());
  if (hashes->empty()) return failure("name the torrents to scrape with info_hash");
  std::vector<bt::scrape_entry> entries;
  for (const auto& hash : *hashes) {
    if (const auto counts = table.scrape(hash, now)) {
      entries.push_back({hash, counts->complete, counts->incomplete, counts->downloaded});
    }
  }
  return bencoded(bt::encode_scrape_response(entries));
}

}  // namespace

std::optional<protocol::endpoint> self_peer_address(const protocol::endpoint& peer_listen,
                                                    const protocol::endpoint& http_local,
                                                    const protocol::endpoint& client) {
  if (peer_listen.port == 0) return std::nullopt;  // not listening (yet)
  auto self = peer_listen;
  if (protocol::is_unspecified(peer_listen)) {
    // 0.0.0.0 accepts no IPv6; [::] is dual-stack (peer/asio_endpoint.hpp).
    if (peer_listen.family == protocol::ip_family::v4 &&
        http_local.family == protocol::ip_family::v6) {
      return std::nullopt;
    }
    self = http_local;
    self.port = peer_listen.port;
  }
  if (!protocol::is_meaningful_to(self, client)) return std::nullopt;
  return self;
}

response serve_tracker(peer::tracker_table& table, const request& req,
                       const protocol::endpoint& peer_listen,
                       std::chrono::steady_clock::time_point now) {
  if (req.method != "GET") {
    auto r = error_response(405, "method not allowed");
    r.set_header("Allow", "GET");
    return r;
  }
  if (!table.allow_request(req.remote, now)) {
    return failure("too many requests from your address; try again in a minute");
  }
  if (req.path() == "/scrape") return scrape(table, req, now);
  return announce(table, req, peer_listen, now);
}

}  // namespace peerlab::http

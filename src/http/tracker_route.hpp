#pragma once
// GET /announce and GET /scrape: the BitTorrent tracker (BEP 3, BEP 23
// compact peers, BEP 7 IPv6, BEP 48 scrape), for any info-hash, so that
// aria2c, Transmission and libtorrent find this node and each other. The
// query is parsed by protocol/tracker.hpp and kept in peer::tracker_table;
// here are only the HTTP side and the addresses, which come from the
// connection itself: a client is registered at the address it connects
// from, never at one it claims (`ip=` is ignored), so nobody can enter a
// third party into the swarm.

#include <chrono>
#include <optional>

#include "http/request.hpp"
#include "http/response.hpp"
#include "peer/tracker_table.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::http {

// Where this node's own peer socket (listening on `peer_listen`) can be
// reached by a client that reached the HTTP server at `http_local`: the
// listening address itself, or when it is every interface (0.0.0.0, [::]),
// the address this client used. nullopt when there is none for that client.
std::optional<protocol::endpoint> self_peer_address(const protocol::endpoint& peer_listen,
                                                    const protocol::endpoint& http_local,
                                                    const protocol::endpoint& client);

// Answers /announce and /scrape (the path decides) with a bencoded body;
// bad requests get a bencoded `failure reason` (status 200, as clients
// expect), other methods 405.
response serve_tracker(peer::tracker_table& table, const request& req,
                       const protocol::endpoint& peer_listen,
                       std::chrono::steady_clock::time_point now);

}  // namespace peerlab::http

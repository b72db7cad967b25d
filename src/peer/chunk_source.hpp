#pragma once
// What a download needs of a peer, whatever wire protocol it speaks: a name,
// a way to ask for a chunk and to take the question back, and what its
// connection's transport knows of the path (to size the request window). The
// swarm's peerlab connections implement it; a BitTorrent connection can too.

#include <chrono>
#include <cstdint>
#include <string>

#include "peer/tcp_info.hpp"
#include "protocol/messages.hpp"

namespace peerlab::peer {

class chunk_source {
 public:
  virtual ~chunk_source() = default;
  // This connection's serial: never reused, so state keyed by it can never
  // be mistaken for a later connection's (even one from the same node).
  virtual std::uint64_t key() const = 0;
  virtual const std::string& name() const = 0;
  virtual void request(const protocol::content_id& id, std::uint32_t index) = 0;
  virtual void cancel(const protocol::content_id& id, std::uint32_t index) = 0;
  virtual tcp_reading path() const = 0;
  // Bytes received on the connection so far: a chunk on its way shows here
  // long before it is complete.
  virtual std::uint64_t bytes_received() const = 0;
};

}  // namespace peerlab::peer

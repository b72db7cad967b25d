#pragma once
// The message trace: every protocol message sent or received, with its
// connection, type, size and key fields, so students can follow a handshake,
// a peer exchange or a chunk request without a packet sniffer. The last few
// hundred events are kept for the dashboard (GET /api/trace); with
// `peerlab node --trace` each one is also logged as it happens.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.hpp"

namespace peerlab::peer {

class connection;

struct trace_event {
  std::uint64_t seq = 0;  // 1, 2, 3, … for this node's life
  double time = 0;        // seconds since the Unix epoch
  bool sent = false;      // false: received
  std::string local;      // the connection's 4-tuple
  std::string remote;
  std::string peer;  // its name, once the handshake told us
  std::string type;
  std::size_t bytes = 0;  // the whole frame, length prefix included
  std::string detail;
};

class trace_log {
 public:
  static constexpr std::size_t capacity = 500;

  explicit trace_log(bool print) : print_(print) {}

  void record(const connection& c, bool sent, const protocol::message& m, std::size_t bytes);
  // A chunk sent from a file: its data never was a message in memory.
  void record(const connection& c, bool sent, const protocol::chunk_head& head, std::size_t bytes);
  // Any other protocol's message (BitTorrent's). peer: the name to show,
  // if not the connection's (empty: the connection's).
  void record(const connection& c, bool sent, std::string_view type, std::string detail,
              std::size_t bytes, std::string peer);
  // The events after `seq` still kept, oldest first (at most `limit`).
  std::vector<trace_event> after(std::uint64_t seq, std::size_t limit = capacity) const;
  std::uint64_t last_seq() const { return next_seq_ - 1; }

 private:
  bool print_;
  std::uint64_t next_seq_ = 1;
  std::deque<trace_event> events_;
};

}  // namespace peerlab::peer

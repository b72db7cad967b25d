#include "peer/trace.hpp"

#include "peer/connection.hpp"
#include "peer/log.hpp"

namespace peerlab::peer {

void trace_log::record(const connection& c, bool sent, const protocol::message& m,
                       std::size_t bytes) {
  // A received hello is traced before the handshake completes: it names its sender.
  std::string peer;
  if (const auto* h = std::get_if<protocol::hello>(&m); h && !sent) {
    peer = protocol::printable_name(h->name);
  }
  record(c, sent, protocol::type_name(m), protocol::describe(m), bytes, std::move(peer));
}

void trace_log::record(const connection& c, bool sent, const protocol::chunk_head& head,
                       std::size_t bytes) {
  record(c, sent, "chunk", protocol::describe(head), bytes, "");
}

void trace_log::record(const connection& c, bool sent, std::string_view type, std::string detail,
                       std::size_t bytes, std::string peer) {
  trace_event e;
  e.seq = next_seq_++;
  e.time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  e.sent = sent;
  e.local = protocol::to_string(c.local());
  e.remote = protocol::to_string(c.remote());
  e.peer = !peer.empty() || !c.peer_hello() ? std::move(peer) : c.peer_hello()->name;
  e.type = type;
  e.bytes = bytes;
  e.detail = std::move(detail);
  if (print_) {
    log_line(log_level::info) << "trace " << e.local << (sent ? " -> " : " <- ") << e.remote << "  "
                              << e.detail << " (" << bytes << " bytes)";
  }
  events_.push_back(std::move(e));
  if (events_.size() > capacity) events_.pop_front();
}

std::vector<trace_event> trace_log::after(std::uint64_t seq, std::size_t limit) const {
  std::vector<trace_event> out;
  for (const auto& e : events_) {
    if (e.seq > seq && out.size() < limit) out.push_back(e);
  }
  return out;
}

}  // namespace peerlab::peer

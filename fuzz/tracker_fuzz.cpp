// Tracker messages: an announce or scrape query string from any client
// (what our /announce and /scrape parse), and answers from any tracker,
// over HTTP and UDP (what our downloads parse). Checks: bounded results,
// and round trips through our own encoders.

#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/tracker.hpp"

namespace peerlab::fuzz {

int fuzz_tracker(const std::uint8_t* data, std::size_t size) {
  using namespace protocol::bt;
  const std::span<const std::uint8_t> bytes(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto q = parse_announce_query(text);
  if (q) {
    FUZZ_CHECK(q->port != 0);
    const auto again = parse_announce_query(make_announce_query(*q));
    FUZZ_CHECK(again.ok() && *again == *q);
  }

  const auto s = parse_scrape_query(text);
  if (s) {
    FUZZ_CHECK(s->size() <= max_scrape_hashes);
    std::vector<scrape_entry> entries;
    for (const auto& h : *s)
      entries.push_back({h, 1, 2, 3});
    FUZZ_CHECK(encode_scrape_response(entries).size() < 64 + 70 * entries.size());
  }

  const auto r = parse_announce_response(bytes);
  if (r) {
    FUZZ_CHECK(r->peers.size() <= max_tracker_peers);
    for (const auto& p : r->peers)
      FUZZ_CHECK(p.address.port != 0);
    // Compact again: the same addresses (peer ids do not travel compactly).
    const auto again = parse_announce_response(encode_announce_response(*r, true));
    FUZZ_CHECK(again.ok() && again->failure_reason == r->failure_reason);
    if (r->failure_reason.empty()) {
      FUZZ_CHECK(again->peers.size() == r->peers.size());
      // Compact lists IPv4 peers first, then IPv6: compare as sets.
      for (std::size_t i = 0; i < r->peers.size(); ++i) {
        bool found = false;
        for (const auto& p : again->peers)
          found = found || p.address == r->peers[i].address;
        FUZZ_CHECK(found);
      }
      FUZZ_CHECK(again->interval == r->interval && again->complete == r->complete);
    }
  }

  for (const auto family : {protocol::ip_family::v4, protocol::ip_family::v6}) {
    const auto u = parse_udp_response(bytes, family);
    if (!u) continue;
    if (const auto* a = std::get_if<udp_announce_response>(&*u)) {
      FUZZ_CHECK(a->peers.size() <= max_tracker_peers);
      for (const auto& p : a->peers)
        FUZZ_CHECK(p.port != 0 && p.family == family);
    }
    if (const auto* e = std::get_if<udp_error>(&*u)) FUZZ_CHECK(e->message.size() <= 1024);
  }
  return 0;
}

}  // namespace peerlab::fuzz

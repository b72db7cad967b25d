// BEP 11 ut_pex messages: the payload of an extended message from any peer.
// Checks: what decodes stays within its bounds (sizes, dialable addresses,
// IPv4 before IPv6), and survives encoding and decoding again unchanged.

#include <span>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/bt_pex.hpp"

namespace peerlab::fuzz {

namespace {

template <class List, class Address>
void check_list(const List& list, Address address) {
  using protocol::ip_family;
  FUZZ_CHECK(list.size() <= protocol::bt::max_pex_peers);
  bool seen_v6 = false;
  for (const auto& entry : list) {
    const protocol::endpoint& e = address(entry);
    FUZZ_CHECK(protocol::is_dialable(e, false));
    FUZZ_CHECK(e.family == ip_family::v4 || e.family == ip_family::v6);
    FUZZ_CHECK(!(seen_v6 && e.family == ip_family::v4));
    seen_v6 = seen_v6 || e.family == ip_family::v6;
  }
}

}  // namespace

int fuzz_bt_pex(const std::uint8_t* data, std::size_t size) {
  using namespace protocol::bt;
  const auto m = decode_pex(std::span<const std::uint8_t>(data, size));
  if (!m) return 0;
  FUZZ_CHECK(size <= max_pex_payload_bytes);
  check_list(m->added, [](const pex_peer& p) -> const protocol::endpoint& { return p.address; });
  check_list(m->dropped,
             [](const protocol::endpoint& e) -> const protocol::endpoint& { return e; });
  const auto bytes = encode_pex(*m);
  FUZZ_CHECK(bytes.size() <= max_pex_payload_bytes);
  const auto again = decode_pex(bytes);
  FUZZ_CHECK(again.ok() && *again == *m);
  FUZZ_CHECK(encode_pex(*again) == bytes);
  return 0;
}

}  // namespace peerlab::fuzz

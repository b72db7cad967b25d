// LAN beacon parser: any UDP datagram on the discovery port, from anyone on
// the LAN. Checks: an accepted beacon has a real port and is at most
// max_beacon_bytes long; encoding it and parsing that gives it back; its
// canonical encoding is itself at most max_beacon_bytes.

#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/beacon.hpp"

namespace peerlab::fuzz {

int fuzz_beacon(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = protocol::parse_beacon(text);
  if (!parsed) {
    FUZZ_CHECK(!parsed.error_message().empty());
    return 0;
  }
  FUZZ_CHECK(size <= protocol::max_beacon_bytes);
  FUZZ_CHECK(parsed->port != 0);
  const auto encoded = protocol::encode_beacon(*parsed);
  FUZZ_CHECK(encoded.size() <= protocol::max_beacon_bytes);
  const auto back = protocol::parse_beacon(encoded);
  FUZZ_CHECK(back.ok() && *back == *parsed);
  return 0;
}

}  // namespace peerlab::fuzz

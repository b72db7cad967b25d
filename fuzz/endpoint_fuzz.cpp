// Endpoint parser: "IP:PORT" or "[IPv6]:PORT" text in, as --listen, --peer
// and the Host header give it. Checks: accepted text is made only of the
// characters an address can have; printing an endpoint and parsing it back
// gives the same endpoint, both for parsed text and for any 19 raw bytes
// read as an endpoint (as the peers message carries them); the address
// predicates agree with each other.

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::fuzz {

namespace {

using namespace protocol;

void check_round_trip(const endpoint& e) {
  const auto text = to_string(e);
  const auto back = parse_endpoint(text);
  FUZZ_CHECK(back.ok() && *back == e);
  FUZZ_CHECK(to_string(*back) == text);  // the printed form is canonical
  const auto ip = ip_to_string(e);
  FUZZ_CHECK(!ip.empty() && text.find(ip) != std::string::npos);

  FUZZ_CHECK(!is_dialable(e, true) || (is_loopback(e) && is_dialable(e, false)));
  FUZZ_CHECK(!is_dialable(e, false) || (e.port != 0 && !is_unspecified(e)));
  FUZZ_CHECK(!(is_loopback(e) && is_unspecified(e)));
}

bool is_address_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
         c == ':' || c == '[' || c == ']';
}

}  // namespace

int fuzz_endpoint(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto parsed = parse_endpoint(text)) {
    FUZZ_CHECK(std::all_of(text.begin(), text.end(), is_address_char));
    FUZZ_CHECK((parsed->family == ip_family::v6) == text.starts_with('['));
    check_round_trip(*parsed);
  } else {
    FUZZ_CHECK(!parsed.error_message().empty());
  }

  // The same bytes as a decoded peers entry: family, 16 address bytes, port.
  if (size >= 19) {
    endpoint e;
    e.family = data[0] % 2 == 0 ? ip_family::v4 : ip_family::v6;
    std::memcpy(e.ip.data(), data + 1, e.family == ip_family::v4 ? 4 : 16);
    e.port = static_cast<std::uint16_t>(data[17] << 8 | data[18]);
    check_round_trip(e);
  }
  return 0;
}

}  // namespace peerlab::fuzz

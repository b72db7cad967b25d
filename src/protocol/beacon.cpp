#include "protocol/beacon.hpp"

#include <charconv>

#include "protocol/hex.hpp"

namespace peerlab::protocol {

namespace {

constexpr std::string_view first_line = "PEERLAB-BEACON 1";
constexpr std::string_view crlf = "\r\n";

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string encode_beacon(const beacon& b) {
  return std::string(first_line) + "\r\nId: " + to_hex(b.id) +
         "\r\nPort: " + std::to_string(b.port) + "\r\n\r\n";
}

result<beacon> parse_beacon(std::string_view datagram) {
  if (datagram.size() > max_beacon_bytes) return error{"beacon longer than 512 bytes"};
  if (!datagram.starts_with(first_line) || !datagram.substr(first_line.size()).starts_with(crlf)) {
    // Another version (PEERLAB-BEACON 2) or another protocol on our port.
    return error{"not a PEERLAB-BEACON 1 datagram"};
  }
  auto rest = datagram.substr(first_line.size() + crlf.size());
  bool have_id = false;
  bool have_port = false;
  beacon b;
  for (std::size_t headers = 0;; ++headers) {
    const auto end = rest.find(crlf);
    if (end == std::string_view::npos) return error{"beacon does not end with an empty line"};
    const auto line = rest.substr(0, end);
    rest.remove_prefix(end + crlf.size());
    if (line.empty()) break;
    if (headers == max_beacon_headers) return error{"too many beacon header lines"};
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return error{"beacon header line without a colon"};
    const auto name = line.substr(0, colon);
    const auto value = trim_spaces(line.substr(colon + 1));
    if (iequals(name, "id")) {
      if (have_id) return error{"two Id lines"};
      if (!from_hex(value, b.id)) return error{"Id is not 32 lowercase hex digits"};
      have_id = true;
    } else if (iequals(name, "port")) {
      if (have_port) return error{"two Port lines"};
      unsigned port = 0;
      const auto* last = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), last, port);
      if (value.empty() || ec != std::errc{} || ptr != last || port == 0 || port > 65535)
        return error{"Port is not a number from 1 to 65535"};
      b.port = static_cast<std::uint16_t>(port);
      have_port = true;
    }
    // Other headers are ignored: a later version may add some.
  }
  if (!rest.empty()) return error{"bytes after the beacon's empty line"};
  if (!have_id || !have_port) return error{"beacon without an Id or a Port line"};
  return b;
}

}  // namespace peerlab::protocol

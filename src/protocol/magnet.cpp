// Magnet links (BEP 9; btmh for v2 from BEP 52): making and reading them.

#include <algorithm>
#include <string>

#include "protocol/hex.hpp"
#include "protocol/torrent.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::protocol::bt {

namespace {

constexpr std::size_t max_magnet_bytes = 64 * 1024;
constexpr std::size_t max_param_bytes = 4096;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex of either case into exactly out.size() bytes.
bool any_case_hex(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() != 2 * out.size()) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

// RFC 4648 base32, 32 characters → 20 bytes (old magnet links use it).
bool base32_20(std::string_view text, sha1_digest& out) {
  if (text.size() != 32) return false;
  std::uint64_t bits = 0;
  int have = 0;
  std::size_t at = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a';
    if (c >= '2' && c <= '7') v = c - '2' + 26;
    if (v < 0) return false;
    bits = (bits << 5) | static_cast<std::uint64_t>(v);
    have += 5;
    if (have >= 8) {
      have -= 8;
      out[at++] = static_cast<std::uint8_t>(bits >> have);
    }
  }
  return at == out.size();
}

result<std::uint64_t> decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return error{"magnet: xl is not a size"};
  std::uint64_t n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return error{"magnet: xl is not a size"};
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

std::string make_magnet(const magnet_link& m) {
  std::string out = "magnet:?";
  const auto add = [&](std::string_view key, const std::string& value) {
    if (out.back() != '?') out += '&';
    out.append(key).append("=").append(value);
  };
  if (m.hashes.v1) add("xt", "urn:btih:" + to_hex(*m.hashes.v1));
  // 0x12 0x20: the multihash prefix of a 32-byte SHA-256.
  if (m.hashes.v2) add("xt", "urn:btmh:1220" + to_hex(*m.hashes.v2));
  if (!m.name.empty()) add("dn", percent_encode(m.name));
  if (m.size) add("xl", std::to_string(*m.size));
  for (const auto& t : m.trackers)
    add("tr", percent_encode(t));
  return out;
}

result<magnet_link> parse_magnet(std::string_view uri, const torrent_limits& limits) {
  constexpr std::string_view scheme = "magnet:?";
  if (uri.size() > max_magnet_bytes) return error{"magnet: link too long"};
  if (uri.size() < scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), uri.begin(),
                  [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b + 32 : b); })) {
    return error{"magnet: not a magnet: link"};
  }
  magnet_link m;
  std::string_view rest = uri.substr(scheme.size());
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (param.empty()) continue;
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) continue;  // not ours to judge
    const std::string_view key = param.substr(0, eq);
    const auto value = percent_decode(param.substr(eq + 1), max_param_bytes, key == "dn");
    if (!value) return error{"magnet: bad escape in " + std::string(key)};
    if (key == "xt") {
      const std::string_view v = *value;
      if (v.starts_with("urn:btih:")) {
        sha1_digest h{};
        const auto digits = v.substr(9);
        if (!any_case_hex(digits, h) && !base32_20(digits, h)) return error{"magnet: bad btih"};
        if (m.hashes.v1 && *m.hashes.v1 != h) return error{"magnet: two different btih"};
        m.hashes.v1 = h;
      } else if (v.starts_with("urn:btmh:")) {
        sha256_digest h{};
        const auto digits = v.substr(9);
        if (!digits.starts_with("1220") || !any_case_hex(digits.substr(4), h)) {
          return error{"magnet: btmh is not a SHA-256 multihash"};
        }
        if (m.hashes.v2 && *m.hashes.v2 != h) return error{"magnet: two different btmh"};
        m.hashes.v2 = h;
      }
    } else if (key == "dn") {
      m.name = *value;
    } else if (key == "tr") {
      const bool printable = std::all_of(value->begin(), value->end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
      });
      if (printable && !value->empty() && m.trackers.size() < limits.max_trackers &&
          std::find(m.trackers.begin(), m.trackers.end(), *value) == m.trackers.end()) {
        m.trackers.push_back(*value);
      }
    } else if (key == "xl") {
      auto size = decimal(*value);
      if (!size) return error{size.error_message()};
      m.size = *size;
    }
  }
  if (!m.hashes.v1 && !m.hashes.v2) return error{"magnet: no btih or btmh info-hash"};
  return m;
}

}  // namespace peerlab::protocol::bt

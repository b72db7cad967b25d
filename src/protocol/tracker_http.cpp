// HTTP trackers (BEP 3, BEP 23 compact, BEP 7 IPv6): the announce query and
// the bencoded answer, both directions.

#include <algorithm>

#include "protocol/bencode.hpp"
#include "protocol/tracker.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::protocol::bt {

namespace {

constexpr std::size_t max_query_params = 64;
constexpr std::size_t max_text_value_bytes = 128;

std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (n > (UINT64_MAX - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

template <std::size_t N>
bool exactly(const std::string& bytes, std::array<std::uint8_t, N>& out) {
  if (bytes.size() != N) return false;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return true;
}

std::uint32_t clamp_u32(std::int64_t v) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, UINT32_MAX));
}

}  // namespace

std::string_view to_string(announce_event e) {
  switch (e) {
    case announce_event::none:
      return "";
    case announce_event::started:
      return "started";
    case announce_event::completed:
      return "completed";
    case announce_event::stopped:
      return "stopped";
    case announce_event::paused:
      return "paused";
  }
  return "";
}

result<announce_request> parse_announce_query(std::string_view query) {
  if (query.size() > max_announce_query_bytes) return error{"announce query too long"};
  announce_request r;
  std::vector<std::string> seen;
  bool has_hash = false, has_peer = false, has_port = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    if (seen.size() >= max_query_params) return error{"announce query with too many parameters"};
    const auto eq = param.find('=');
    const auto key = percent_decode(param.substr(0, eq), 64);
    const auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1),
                       max_text_value_bytes);
    if (!key || !value) return error{"announce query with a bad escape or an overlong value"};
    if (std::find(seen.begin(), seen.end(), *key) != seen.end()) {
      return error{"announce query repeats " + *key};
    }
    seen.push_back(*key);
    const auto number = [&](const char* what) -> result<std::uint64_t> {
      const auto n = decimal(*value);
      if (!n) return error{std::string(what) + " is not a decimal number"};
      return *n;
    };
    if (*key == "info_hash") {
      if (!exactly(*value, r.info_hash)) return error{"info_hash is not 20 bytes"};
      has_hash = true;
    } else if (*key == "peer_id") {
      if (!exactly(*value, r.peer)) return error{"peer_id is not 20 bytes"};
      has_peer = true;
    } else if (*key == "port") {
      const auto n = number("port");
      if (!n || *n == 0 || *n > 65535) return error{"port is not 1..65535"};
      r.port = static_cast<std::uint16_t>(*n);
      has_port = true;
    } else if (*key == "uploaded" || *key == "downloaded" || *key == "left") {
      const auto n = number(key->c_str());
      if (!n) return error{n.error_message()};
      if (*key == "uploaded") r.uploaded = *n;
      if (*key == "downloaded") r.downloaded = *n;
      if (*key == "left") r.left = *n;
    } else if (*key == "event") {
      const auto& e = *value;
      if (e.empty())
        r.event = announce_event::none;
      else if (e == "started")
        r.event = announce_event::started;
      else if (e == "completed")
        r.event = announce_event::completed;
      else if (e == "stopped")
        r.event = announce_event::stopped;
      else if (e == "paused")
        r.event = announce_event::paused;
      else
        return error{"unknown event"};
    } else if (*key == "compact" || *key == "no_peer_id") {
      if (*value != "0" && *value != "1") return error{*key + " is not 0 or 1"};
      (*key == "compact" ? r.compact : r.no_peer_id) = *value == "1";
    } else if (*key == "numwant") {
      const auto n = number("numwant");
      if (!n) return error{n.error_message()};
      r.numwant = static_cast<std::uint32_t>(std::min<std::uint64_t>(*n, UINT32_MAX));
    } else if (*key == "ip") {
      r.ip = *value;
    } else if (*key == "key") {
      r.key = *value;
    }
  }
  if (!has_hash || !has_peer || !has_port) {
    return error{"announce query needs info_hash, peer_id and port"};
  }
  return r;
}

std::string make_announce_query(const announce_request& r) {
  std::string q =
      "info_hash=" + percent_encode({reinterpret_cast<const char*>(r.info_hash.data()), 20}) +
      "&peer_id=" + percent_encode({reinterpret_cast<const char*>(r.peer.data()), 20}) +
      "&port=" + std::to_string(r.port) + "&uploaded=" + std::to_string(r.uploaded) +
      "&downloaded=" + std::to_string(r.downloaded);
  if (r.left) q += "&left=" + std::to_string(*r.left);
  if (r.event != announce_event::none) q += "&event=" + std::string(to_string(r.event));
  q += r.compact ? "&compact=1" : "&compact=0";
  if (r.no_peer_id) q += "&no_peer_id=1";
  if (r.numwant) q += "&numwant=" + std::to_string(*r.numwant);
  if (!r.ip.empty()) q += "&ip=" + percent_encode(r.ip);
  if (!r.key.empty()) q += "&key=" + percent_encode(r.key);
  return q;
}

result<std::vector<sha1_digest>> parse_scrape_query(std::string_view query) {
  if (query.size() > max_announce_query_bytes) return error{"scrape query too long"};
  std::vector<sha1_digest> hashes;
  std::size_t params = 0;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    if (++params > max_query_params + max_scrape_hashes) {
      return error{"scrape query with too many parameters"};
    }
    const auto eq = param.find('=');
    const auto key = percent_decode(param.substr(0, eq), 64);
    if (!key) return error{"scrape query with a bad escape"};
    if (*key != "info_hash") continue;
    const auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1),
                       max_text_value_bytes);
    sha1_digest hash{};
    if (!value || !exactly(*value, hash)) return error{"info_hash is not 20 bytes"};
    if (hashes.size() >= max_scrape_hashes) return error{"scrape query asks for too many torrents"};
    if (std::find(hashes.begin(), hashes.end(), hash) == hashes.end()) hashes.push_back(hash);
  }
  return hashes;
}

std::vector<std::uint8_t> encode_scrape_response(std::span<const scrape_entry> entries) {
  auto files = bvalue::make_dict();
  for (const auto& e : entries) {
    auto counts = bvalue::make_dict();
    counts.set("complete", e.complete);
    counts.set("downloaded", e.downloaded);
    counts.set("incomplete", e.incomplete);
    files.set(std::string(e.info_hash.begin(), e.info_hash.end()), std::move(counts));
  }
  auto d = bvalue::make_dict();
  d.set("files", std::move(files));
  return bencode(d);
}

std::vector<std::uint8_t> encode_announce_response(const announce_response& r, bool compact) {
  auto d = bvalue::make_dict();
  if (!r.failure_reason.empty()) {
    d.set("failure reason", r.failure_reason);
    return bencode(d);
  }
  if (!r.warning_message.empty()) d.set("warning message", r.warning_message);
  d.set("interval", r.interval);
  if (r.min_interval) d.set("min interval", *r.min_interval);
  if (r.complete) d.set("complete", *r.complete);
  if (r.incomplete) d.set("incomplete", *r.incomplete);
  if (compact) {
    std::string v4, v6;
    for (const auto& p : r.peers) {
      auto& out = p.address.family == ip_family::v4 ? v4 : v6;
      out.append(reinterpret_cast<const char*>(p.address.ip.data()),
                 p.address.family == ip_family::v4 ? 4 : 16);
      out.push_back(static_cast<char>(p.address.port >> 8));  // big-endian, unlike peerlab
      out.push_back(static_cast<char>(p.address.port & 0xff));
    }
    d.set("peers", std::move(v4));
    if (!v6.empty()) d.set("peers6", std::move(v6));
  } else {
    bvalue::list peers;
    for (const auto& p : r.peers) {
      auto peer = bvalue::make_dict();
      peer.set("ip", ip_to_string(p.address));
      peer.set("port", p.address.port);
      if (p.id) peer.set("peer id", std::span<const std::uint8_t>(*p.id));
      peers.push_back(std::move(peer));
    }
    d.set("peers", std::move(peers));
  }
  return bencode(d);
}

result<announce_response> parse_announce_response(std::span<const std::uint8_t> bytes) {
  bdecode_limits limits;
  limits.max_input_bytes = max_tracker_response_bytes;
  limits.max_depth = 4;
  limits.max_tokens = 8 * max_tracker_peers + 64;
  auto decoded = bdecode(bytes, limits);
  if (!decoded) return error{"tracker response: " + decoded.error_message()};
  const bvalue& d = *decoded;
  if (!d.is_dict()) return error{"tracker response is not a dictionary"};
  announce_response r;
  if (const auto* failure = d.find_string("failure reason")) {
    r.failure_reason = failure->as_string().substr(0, 1024);
    if (r.failure_reason.empty()) r.failure_reason = "(empty failure reason)";
    return r;
  }
  if (const auto* w = d.find_string("warning message"))
    r.warning_message = w->as_string().substr(0, 1024);
  const auto* interval = d.find_int("interval");
  if (!interval) return error{"tracker response without an interval"};
  r.interval = clamp_u32(interval->as_int());
  if (const auto* v = d.find_int("min interval")) r.min_interval = clamp_u32(v->as_int());
  if (const auto* v = d.find_int("complete")) r.complete = clamp_u32(v->as_int());
  if (const auto* v = d.find_int("incomplete")) r.incomplete = clamp_u32(v->as_int());

  const auto add_compact = [&](const std::string& s, ip_family family) -> bool {
    const std::size_t ip_bytes = family == ip_family::v4 ? 4 : 16;
    if (s.size() % (ip_bytes + 2) != 0) return false;
    for (std::size_t at = 0; at < s.size() && r.peers.size() < max_tracker_peers;
         at += ip_bytes + 2) {
      tracker_peer p;
      p.address.family = family;
      std::copy_n(s.begin() + static_cast<std::ptrdiff_t>(at), ip_bytes, p.address.ip.begin());
      p.address.port =
          static_cast<std::uint16_t>((static_cast<std::uint8_t>(s[at + ip_bytes]) << 8) |
                                     static_cast<std::uint8_t>(s[at + ip_bytes + 1]));
      if (p.address.port != 0) r.peers.push_back(p);
    }
    return true;
  };
  if (const auto* peers = d.find("peers")) {
    if (peers->is_string()) {
      if (!add_compact(peers->as_string(), ip_family::v4)) {
        return error{"compact peers are not 6 bytes each"};
      }
    } else if (peers->is_list()) {
      for (const auto& entry : peers->as_list()) {
        if (r.peers.size() >= max_tracker_peers) break;
        const auto* ip = entry.find_string("ip");
        const auto* port = entry.find_int("port");
        if (!ip || !port || port->as_int() <= 0 || port->as_int() > 65535) continue;
        const auto& text = ip->as_string();
        const bool v6 = text.find(':') != std::string::npos;
        auto address =
            parse_endpoint((v6 ? "[" + text + "]" : text) + ":" + std::to_string(port->as_int()));
        if (!address) continue;  // a host name: BEP 3 allows it, we do not resolve
        tracker_peer p{*address, std::nullopt};
        if (const auto* id = entry.find_string("peer id"); id && id->as_string().size() == 20) {
          p.id.emplace();
          exactly(id->as_string(), *p.id);
        }
        r.peers.push_back(p);
      }
    } else {
      return error{"peers is neither a string nor a list"};
    }
  }
  if (const auto* peers6 = d.find_string("peers6")) {
    if (!add_compact(peers6->as_string(), ip_family::v6)) {
      return error{"compact peers6 are not 18 bytes each"};
    }
  }
  return r;
}

}  // namespace peerlab::protocol::bt

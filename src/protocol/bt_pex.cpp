#include "protocol/bt_pex.hpp"

#include <algorithm>
#include <string>
#include <string_view>

#include "protocol/bencode.hpp"

namespace peerlab::protocol::bt {

namespace {

constexpr std::size_t compact_bytes(ip_family family) {
  return family == ip_family::v4 ? 6 : 18;
}

// BEP 23's compact form: the address in network order, then the port.
void append_compact(const endpoint& e, std::string& out) {
  const std::size_t n = compact_bytes(e.family) - 2;
  out.append(reinterpret_cast<const char*>(e.ip.data()), n);
  out.push_back(static_cast<char>(e.port >> 8));
  out.push_back(static_cast<char>(e.port & 0xff));
}

endpoint read_compact(std::string_view bytes, ip_family family) {
  endpoint e;
  e.family = family;
  const std::size_t n = compact_bytes(family) - 2;
  std::copy_n(bytes.begin(), n, e.ip.begin());
  e.port = static_cast<std::uint16_t>(static_cast<std::uint8_t>(bytes[n]) << 8 |
                                      static_cast<std::uint8_t>(bytes[n + 1]));
  return e;
}

// The four lists on the wire; the added ones carry a flags string beside.
struct wire_list {
  const char* key;
  const char* flags_key;  // nullptr for the dropped lists
  ip_family family;
  bool added() const { return flags_key != nullptr; }
};
constexpr wire_list wire_lists[] = {{"added", "added.f", ip_family::v4},
                                    {"added6", "added6.f", ip_family::v6},
                                    {"dropped", nullptr, ip_family::v4},
                                    {"dropped6", nullptr, ip_family::v6}};

bool same_family(const endpoint& e, ip_family family) {
  return (e.family == ip_family::v4) == (family == ip_family::v4);
}

// The string under `key`: nullptr when the key is absent, an error when it
// holds something else.
result<const std::string*> string_at(const bvalue& d, const char* key) {
  const bvalue* v = d.find(key);
  if (!v) return static_cast<const std::string*>(nullptr);
  if (!v->is_string()) return error{std::string("ut_pex: ") + key + " is not a string"};
  return &v->as_string();
}

// Reads one compact string, skipping what nobody could dial, while the
// list it feeds (of `kept` entries so far) holds fewer than max_pex_peers.
// `keep` gets each peer with its index in the string (for its flags byte).
template <class Keep>
void read_compact_list(std::string_view s, ip_family family, std::size_t kept, Keep keep) {
  const std::size_t step = compact_bytes(family);
  for (std::size_t i = 0; i * step < s.size() && kept < max_pex_peers; ++i) {
    const endpoint e = read_compact(s.substr(i * step, step), family);
    if (!is_dialable(e, false)) continue;
    keep(i, e);
    ++kept;
  }
}

}  // namespace

std::vector<std::uint8_t> encode_pex(const pex_message& m) {
  auto d = bvalue::make_dict();
  for (const auto& list : wire_lists) {
    std::string peers;
    std::string flags;
    if (list.added()) {
      for (std::size_t i = 0; i < m.added.size() && i < max_pex_peers; ++i) {
        if (!same_family(m.added[i].address, list.family)) continue;
        append_compact(m.added[i].address, peers);
        flags.push_back(static_cast<char>(m.added[i].flags));
      }
      d.set(list.flags_key, std::move(flags));
    } else {
      for (std::size_t i = 0; i < m.dropped.size() && i < max_pex_peers; ++i) {
        if (same_family(m.dropped[i], list.family)) append_compact(m.dropped[i], peers);
      }
    }
    d.set(list.key, std::move(peers));
  }
  return bencode(d);
}

result<pex_message> decode_pex(std::span<const std::uint8_t> payload) {
  if (payload.size() > max_pex_payload_bytes) {
    return error{"ut_pex: message of " + std::to_string(payload.size()) + " bytes, more than " +
                 std::to_string(max_pex_payload_bytes)};
  }
  // Six strings; room for the extras a client may add, and a bomb costs
  // no more than that.
  bdecode_limits limits;
  limits.max_input_bytes = max_pex_payload_bytes;
  limits.max_depth = 8;
  limits.max_tokens = 1024;
  auto decoded = bdecode(payload, limits);
  if (!decoded) return error{"ut_pex: " + decoded.error_message()};
  const bvalue& d = *decoded;
  if (!d.is_dict()) return error{"ut_pex: message is not a dictionary"};
  pex_message m;
  for (const auto& list : wire_lists) {
    const auto peers = string_at(d, list.key);
    if (!peers) return error{peers.error_message()};
    const std::size_t step = compact_bytes(list.family);
    if (*peers && (*peers)->size() % step != 0) {
      return error{std::string("ut_pex: ") + list.key + " of " + std::to_string((*peers)->size()) +
                   " bytes, not a multiple of " + std::to_string(step)};
    }
    std::string_view flags;
    if (list.added()) {
      const auto f = string_at(d, list.flags_key);
      if (!f) return error{f.error_message()};
      if (*f) flags = **f;
    }
    if (!*peers) continue;
    if (list.added()) {
      // A flags string shorter than its peers leaves the rest 0, as BEP 11
      // makes added.f optional.
      read_compact_list(
          **peers, list.family, m.added.size(), [&](std::size_t i, const endpoint& e) {
            m.added.push_back(
                {e, i < flags.size() ? static_cast<std::uint8_t>(flags[i]) : std::uint8_t{0}});
          });
    } else {
      read_compact_list(**peers, list.family, m.dropped.size(),
                        [&](std::size_t, const endpoint& e) { m.dropped.push_back(e); });
    }
  }
  return m;
}

}  // namespace peerlab::protocol::bt

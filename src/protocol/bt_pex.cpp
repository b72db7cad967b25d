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

// One pair of keys: added/added.f or added6/added6.f.
struct added_keys {
  const char* peers;
  const char* flags;
  ip_family family;
};
constexpr added_keys added_v4{"added", "added.f", ip_family::v4};
constexpr added_keys added_v6{"added6", "added6.f", ip_family::v6};

void encode_added(const pex_message& m, const added_keys& keys, bvalue& d) {
  std::string peers;
  std::string flags;
  for (std::size_t i = 0; i < m.added.size() && i < max_pex_peers; ++i) {
    const auto& p = m.added[i];
    if ((p.address.family == ip_family::v4) != (keys.family == ip_family::v4)) continue;
    append_compact(p.address, peers);
    flags.push_back(static_cast<char>(p.flags));
  }
  d.set(keys.peers, std::move(peers));
  d.set(keys.flags, std::move(flags));
}

void encode_dropped(const pex_message& m, const char* key, ip_family family, bvalue& d) {
  std::string peers;
  for (std::size_t i = 0; i < m.dropped.size() && i < max_pex_peers; ++i) {
    if ((m.dropped[i].family == ip_family::v4) == (family == ip_family::v4))
      append_compact(m.dropped[i], peers);
  }
  d.set(key, std::move(peers));
}

// A compact string under `key`, or nullptr when the key is absent; an error
// when it is there but malformed.
result<const std::string*> compact_string(const bvalue& d, const char* key, ip_family family) {
  const bvalue* v = d.find(key);
  if (!v) return static_cast<const std::string*>(nullptr);
  if (!v->is_string()) return error{std::string("ut_pex: ") + key + " is not a string"};
  const auto& s = v->as_string();
  if (s.size() % compact_bytes(family) != 0) {
    return error{std::string("ut_pex: ") + key + " of " + std::to_string(s.size()) +
                 " bytes, not a multiple of " + std::to_string(compact_bytes(family))};
  }
  return &s;
}

// Reads one compact list, skipping what nobody could dial, until `out`
// holds max_pex_peers.
template <class Keep>
void read_peers(const std::string& s, ip_family family, std::size_t already, Keep keep) {
  const std::size_t step = compact_bytes(family);
  std::size_t kept = already;
  for (std::size_t i = 0; i * step < s.size() && kept < max_pex_peers; ++i) {
    const endpoint e = read_compact(std::string_view(s).substr(i * step, step), family);
    if (!is_dialable(e, false)) continue;
    keep(i, e);
    ++kept;
  }
}

result<bool> decode_added(const bvalue& d, const added_keys& keys, pex_message& m) {
  auto peers = compact_string(d, keys.peers, keys.family);
  if (!peers) return error{peers.error_message()};
  const bvalue* flags = d.find(keys.flags);
  if (flags && !flags->is_string()) {
    return error{std::string("ut_pex: ") + keys.flags + " is not a string"};
  }
  if (!*peers) return true;
  const std::string no_flags;
  const std::string& f = flags ? flags->as_string() : no_flags;
  read_peers(**peers, keys.family, m.added.size(), [&](std::size_t i, const endpoint& e) {
    m.added.push_back({e, i < f.size() ? static_cast<std::uint8_t>(f[i]) : std::uint8_t{0}});
  });
  return true;
}

result<bool> decode_dropped(const bvalue& d, const char* key, ip_family family, pex_message& m) {
  auto peers = compact_string(d, key, family);
  if (!peers) return error{peers.error_message()};
  if (*peers) {
    read_peers(**peers, family, m.dropped.size(),
               [&](std::size_t, const endpoint& e) { m.dropped.push_back(e); });
  }
  return true;
}

}  // namespace

std::vector<std::uint8_t> encode_pex(const pex_message& m) {
  auto d = bvalue::make_dict();
  encode_added(m, added_v4, d);
  encode_added(m, added_v6, d);
  encode_dropped(m, "dropped", ip_family::v4, d);
  encode_dropped(m, "dropped6", ip_family::v6, d);
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
  for (const auto* keys : {&added_v4, &added_v6}) {
    if (auto ok = decode_added(d, *keys, m); !ok) return error{ok.error_message()};
  }
  if (auto ok = decode_dropped(d, "dropped", ip_family::v4, m); !ok) {
    return error{ok.error_message()};
  }
  if (auto ok = decode_dropped(d, "dropped6", ip_family::v6, m); !ok) {
    return error{ok.error_message()};
  }
  return m;
}

}  // namespace peerlab::protocol::bt

#include "protocol/bt_extension.hpp"

#include <algorithm>

#include "protocol/bencode.hpp"

namespace peerlab::protocol::bt {

namespace {

// An extension handshake is a few dozen values; this leaves room for the
// extras clients add, and costs nothing whatever a bomb claims.
bdecode_limits small_dict_limits(std::size_t max_bytes) {
  bdecode_limits limits;
  limits.max_input_bytes = max_bytes;
  limits.max_depth = 8;
  limits.max_tokens = 2048;
  return limits;
}

constexpr std::size_t max_handshake_bytes = 64 * 1024;

}  // namespace

std::uint8_t extension_handshake::id_of(std::string_view name) const {
  for (const auto& [n, id] : m)
    if (n == name) return id;
  return 0;
}

std::vector<std::uint8_t> encode_extension_handshake(const extension_handshake& h) {
  auto d = bvalue::make_dict();
  auto m = bvalue::make_dict();
  for (const auto& [name, id] : h.m)
    m.set(name, id);
  d.set("m", std::move(m));
  if (!h.client.empty()) d.set("v", h.client);
  if (h.metadata_size) d.set("metadata_size", *h.metadata_size);
  if (h.reqq) d.set("reqq", *h.reqq);
  if (h.listen_port) d.set("p", *h.listen_port);
  if (h.yourip) {
    const std::size_t n = h.yourip->family == ip_family::v4 ? 4 : 16;
    d.set("yourip", std::span<const std::uint8_t>(h.yourip->ip.data(), n));
  }
  return bencode(d);
}

result<extension_handshake> decode_extension_handshake(std::span<const std::uint8_t> payload) {
  auto decoded = bdecode(payload, small_dict_limits(max_handshake_bytes));
  if (!decoded) return error{"extension handshake: " + decoded.error_message()};
  const bvalue& d = *decoded;
  if (!d.is_dict()) return error{"extension handshake is not a dictionary"};
  extension_handshake h;
  if (const auto* m = d.find("m")) {
    if (!m->is_dict()) return error{"extension handshake: m is not a dictionary"};
    if (m->as_dict().size() > max_extension_names) {
      return error{"extension handshake: more than " + std::to_string(max_extension_names) +
                   " extensions"};
    }
    for (const auto& [name, id] : m->as_dict()) {
      if (name.empty() || name.size() > max_extension_name_bytes) continue;
      if (!id.is_int() || id.as_int() < 0 || id.as_int() > 255) {
        return error{"extension handshake: id of " + name + " is not 0..255"};
      }
      h.m.emplace_back(name, static_cast<std::uint8_t>(id.as_int()));
    }
  }
  if (const auto* v = d.find_string("v"))
    h.client = v->as_string().substr(0, max_client_name_bytes);
  if (const auto* size = d.find_int("metadata_size")) {
    if (size->as_int() <= 0 || static_cast<std::uint64_t>(size->as_int()) > max_metadata_bytes) {
      return error{"extension handshake: metadata_size " + std::to_string(size->as_int()) +
                   " outside 1.." + std::to_string(max_metadata_bytes)};
    }
    h.metadata_size = static_cast<std::uint64_t>(size->as_int());
  }
  if (const auto* reqq = d.find_int("reqq"); reqq && reqq->as_int() > 0) {
    h.reqq = static_cast<std::uint32_t>(std::min<std::int64_t>(reqq->as_int(), 1 << 16));
  }
  if (const auto* p = d.find_int("p"); p && p->as_int() > 0 && p->as_int() <= 65535) {
    h.listen_port = static_cast<std::uint16_t>(p->as_int());
  }
  if (const auto* ip = d.find_string("yourip")) {
    const auto& bytes = ip->as_string();
    if (bytes.size() == 4 || bytes.size() == 16) {
      endpoint e;
      e.family = bytes.size() == 4 ? ip_family::v4 : ip_family::v6;
      std::copy(bytes.begin(), bytes.end(), e.ip.begin());
      h.yourip = e;
    }
  }
  return h;
}

std::uint32_t metadata_piece_count(std::uint64_t metadata_size) {
  return static_cast<std::uint32_t>((metadata_size + metadata_piece_bytes - 1) /
                                    metadata_piece_bytes);
}

std::vector<std::uint8_t> encode_metadata_message(const metadata_message& m) {
  auto d = bvalue::make_dict();
  d.set("msg_type", static_cast<int>(m.type));
  d.set("piece", m.piece);
  if (m.type == metadata_type::data) d.set("total_size", m.total_size);
  auto out = bencode(d);
  if (m.type == metadata_type::data) out.insert(out.end(), m.data.begin(), m.data.end());
  return out;
}

result<metadata_message> decode_metadata_message(std::span<const std::uint8_t> payload,
                                                 std::uint64_t max_size) {
  // The dictionary comes first; a data message's piece follows it raw.
  auto prefix = bdecode_prefix(payload, small_dict_limits(payload.size()));
  if (!prefix) return error{"ut_metadata: " + prefix.error_message()};
  const bvalue& d = prefix->value;
  const auto* type = d.find_int("msg_type");
  const auto* piece = d.find_int("piece");
  if (!type || !piece) return error{"ut_metadata: message without msg_type or piece"};
  if (type->as_int() < 0 || type->as_int() > 2) return error{"ut_metadata: unknown msg_type"};
  if (piece->as_int() < 0 || piece->as_int() >= metadata_piece_count(max_size)) {
    return error{"ut_metadata: piece " + std::to_string(piece->as_int()) + " out of range"};
  }
  metadata_message m;
  m.type = static_cast<metadata_type>(type->as_int());
  m.piece = static_cast<std::uint32_t>(piece->as_int());
  const auto rest = payload.subspan(prefix->consumed);
  if (m.type != metadata_type::data) {
    if (!rest.empty()) return error{"ut_metadata: bytes after a request or reject"};
    return m;
  }
  const auto* total = d.find_int("total_size");
  if (!total || total->as_int() <= 0 || static_cast<std::uint64_t>(total->as_int()) > max_size) {
    return error{"ut_metadata: total_size missing or outside 1.." + std::to_string(max_size)};
  }
  m.total_size = static_cast<std::uint64_t>(total->as_int());
  if (m.piece >= metadata_piece_count(m.total_size)) {
    return error{"ut_metadata: piece beyond the metadata's end"};
  }
  const std::uint64_t expected = std::min<std::uint64_t>(
      metadata_piece_bytes, m.total_size - std::uint64_t{m.piece} * metadata_piece_bytes);
  if (rest.size() != expected) {
    return error{"ut_metadata: piece of " + std::to_string(rest.size()) + " bytes, expected " +
                 std::to_string(expected)};
  }
  m.data.assign(rest.begin(), rest.end());
  return m;
}

}  // namespace peerlab::protocol::bt

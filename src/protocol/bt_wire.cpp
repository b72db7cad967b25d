// Encoding BitTorrent wire messages, the handshake, and telling the two
// protocols apart on a shared port.

#include "protocol/bt_wire.hpp"

#include <algorithm>

#include "protocol/hex.hpp"
#include "protocol/messages.hpp"

namespace peerlab::protocol::bt {

namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// Length prefix and id for a message whose fields take `body` bytes.
std::vector<std::uint8_t> start(message_id id, std::size_t body) {
  std::vector<std::uint8_t> out;
  out.reserve(5 + body);
  put_u32(out, static_cast<std::uint32_t>(1 + body));
  out.push_back(static_cast<std::uint8_t>(id));
  return out;
}

std::vector<std::uint8_t> with_piece(message_id id, std::uint32_t piece) {
  auto out = start(id, 4);
  put_u32(out, piece);
  return out;
}

std::vector<std::uint8_t> with_block(message_id id, std::uint32_t piece, std::uint32_t begin,
                                     std::uint32_t length) {
  auto out = start(id, 12);
  put_u32(out, piece);
  put_u32(out, begin);
  put_u32(out, length);
  return out;
}

template <class M>
std::vector<std::uint8_t> with_hash_fields(message_id id, const M& m, std::size_t extra) {
  auto out = start(id, 32 + 16 + extra);
  out.insert(out.end(), m.root.begin(), m.root.end());
  put_u32(out, m.base);
  put_u32(out, m.index);
  put_u32(out, m.count);
  put_u32(out, m.proof_layers);
  return out;
}

struct encoder {
  std::vector<std::uint8_t> operator()(const handshake& h) const {
    const auto bytes = encode_handshake(h);
    return {bytes.begin(), bytes.end()};
  }
  std::vector<std::uint8_t> operator()(const keepalive&) const { return {0, 0, 0, 0}; }
  std::vector<std::uint8_t> operator()(const choke&) const { return start(message_id::choke, 0); }
  std::vector<std::uint8_t> operator()(const unchoke&) const {
    return start(message_id::unchoke, 0);
  }
  std::vector<std::uint8_t> operator()(const interested&) const {
    return start(message_id::interested, 0);
  }
  std::vector<std::uint8_t> operator()(const not_interested&) const {
    return start(message_id::not_interested, 0);
  }
  std::vector<std::uint8_t> operator()(const have_all&) const {
    return start(message_id::have_all, 0);
  }
  std::vector<std::uint8_t> operator()(const have_none&) const {
    return start(message_id::have_none, 0);
  }
  std::vector<std::uint8_t> operator()(const have& m) const {
    return with_piece(message_id::have, m.piece);
  }
  std::vector<std::uint8_t> operator()(const suggest& m) const {
    return with_piece(message_id::suggest, m.piece);
  }
  std::vector<std::uint8_t> operator()(const allowed_fast& m) const {
    return with_piece(message_id::allowed_fast, m.piece);
  }
  std::vector<std::uint8_t> operator()(const bitfield& m) const {
    auto out = start(message_id::bitfield, m.bits.size());
    out.insert(out.end(), m.bits.begin(), m.bits.end());
    return out;
  }
  std::vector<std::uint8_t> operator()(const request& m) const {
    return with_block(message_id::request, m.piece, m.begin, m.length);
  }
  std::vector<std::uint8_t> operator()(const cancel& m) const {
    return with_block(message_id::cancel, m.piece, m.begin, m.length);
  }
  std::vector<std::uint8_t> operator()(const reject_request& m) const {
    return with_block(message_id::reject_request, m.piece, m.begin, m.length);
  }
  std::vector<std::uint8_t> operator()(const piece& m) const {
    const auto head =
        encode_piece_head(m.index, m.begin, static_cast<std::uint32_t>(m.data.size()));
    std::vector<std::uint8_t> out(head.begin(), head.end());
    out.insert(out.end(), m.data.begin(), m.data.end());
    return out;
  }
  std::vector<std::uint8_t> operator()(const port& m) const {
    auto out = start(message_id::port, 2);
    out.push_back(static_cast<std::uint8_t>(m.dht_port >> 8));
    out.push_back(static_cast<std::uint8_t>(m.dht_port));
    return out;
  }
  std::vector<std::uint8_t> operator()(const extended& m) const {
    auto out = start(message_id::extended, 1 + m.payload.size());
    out.push_back(m.id);
    out.insert(out.end(), m.payload.begin(), m.payload.end());
    return out;
  }
  std::vector<std::uint8_t> operator()(const hash_request& m) const {
    return with_hash_fields(message_id::hash_request, m, 0);
  }
  std::vector<std::uint8_t> operator()(const hash_reject& m) const {
    return with_hash_fields(message_id::hash_reject, m, 0);
  }
  std::vector<std::uint8_t> operator()(const hashes& m) const {
    auto out = with_hash_fields(message_id::hashes, m, 32 * m.values.size());
    for (const auto& h : m.values)
      out.insert(out.end(), h.begin(), h.end());
    return out;
  }
  std::vector<std::uint8_t> operator()(const unknown&) const { return {}; }
};

std::string block_text(std::string_view name, std::uint32_t piece, std::uint32_t begin,
                       std::uint32_t length) {
  return std::string(name) + " #" + std::to_string(piece) + " +" + std::to_string(begin) + " " +
         std::to_string(length);
}

}  // namespace

std::array<std::uint8_t, handshake_bytes> encode_handshake(const handshake& h) {
  std::array<std::uint8_t, handshake_bytes> out{};
  out[0] = static_cast<std::uint8_t>(protocol_name.size());
  std::copy(protocol_name.begin(), protocol_name.end(), out.begin() + 1);
  std::copy(h.reserved.begin(), h.reserved.end(), out.begin() + 20);
  std::copy(h.info_hash.begin(), h.info_hash.end(), out.begin() + 28);
  std::copy(h.id.begin(), h.id.end(), out.begin() + 48);
  return out;
}

result<handshake> decode_handshake(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != handshake_bytes) return error{"handshake is not 68 bytes"};
  if (bytes[0] != protocol_name.size() ||
      !std::equal(protocol_name.begin(), protocol_name.end(), bytes.begin() + 1)) {
    return error{"handshake does not start with \\x13BitTorrent protocol"};
  }
  handshake h;
  std::copy_n(bytes.begin() + 20, 8, h.reserved.begin());
  std::copy_n(bytes.begin() + 28, 20, h.info_hash.begin());
  std::copy_n(bytes.begin() + 48, 20, h.id.begin());
  return h;
}

first_bytes classify_first_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return first_bytes::need_more;
  if (bytes[0] == protocol_name.size()) {
    // "\x13BitTorrent protocol": every byte that has arrived must match.
    const std::size_t n = std::min<std::size_t>(bytes.size(), 1 + protocol_name.size());
    if (!std::equal(bytes.begin() + 1, bytes.begin() + static_cast<std::ptrdiff_t>(n),
                    protocol_name.begin())) {
      return first_bytes::neither;
    }
    return n < 1 + protocol_name.size() ? first_bytes::need_more : first_bytes::bittorrent;
  }
  // peerlab's hello frame: 4-byte big-endian length of a hello payload
  // (34 + a name of up to max_name_bytes), type 1, flag 1, magic "PLAB" LE.
  constexpr std::uint32_t min_hello = 34;
  constexpr std::uint32_t max_hello = min_hello + max_name_bytes;
  const std::array<std::uint8_t, 10> pattern = {0,
                                                0,
                                                0,
                                                0,
                                                1,
                                                1,
                                                static_cast<std::uint8_t>(protocol_magic),
                                                static_cast<std::uint8_t>(protocol_magic >> 8),
                                                static_cast<std::uint8_t>(protocol_magic >> 16),
                                                static_cast<std::uint8_t>(protocol_magic >> 24)};
  for (std::size_t i = 0; i < std::min(bytes.size(), pattern.size()); ++i) {
    if (i == 3) {
      if (bytes[3] < min_hello || bytes[3] > max_hello) return first_bytes::neither;
    } else if (bytes[i] != pattern[i]) {
      return first_bytes::neither;
    }
  }
  return bytes.size() < pattern.size() ? first_bytes::need_more : first_bytes::peerlab;
}

std::string_view to_string(first_bytes kind) {
  switch (kind) {
    case first_bytes::need_more:
      return "need more";
    case first_bytes::peerlab:
      return "peerlab";
    case first_bytes::bittorrent:
      return "bittorrent";
    case first_bytes::neither:
      return "neither";
  }
  return "?";
}

std::vector<std::uint8_t> encode(const message& m) {
  return std::visit(encoder{}, m);
}

std::array<std::uint8_t, 13> encode_piece_head(std::uint32_t index, std::uint32_t begin,
                                               std::uint32_t length) {
  std::vector<std::uint8_t> out = start(message_id::piece, 8 + std::size_t{length});
  put_u32(out, index);
  put_u32(out, begin);
  std::array<std::uint8_t, 13> head{};
  std::copy(out.begin(), out.end(), head.begin());
  return head;
}

std::string describe(const message& m) {
  struct describer {
    std::string operator()(const handshake& h) const {
      return "handshake " + to_hex(h.info_hash).substr(0, 8) +
             (h.extension_protocol() ? " ext" : "") + (h.fast() ? " fast" : "") +
             (h.v2_upgrade() ? " v2" : "");
    }
    std::string operator()(const keepalive&) const { return "keepalive"; }
    std::string operator()(const choke&) const { return "choke"; }
    std::string operator()(const unchoke&) const { return "unchoke"; }
    std::string operator()(const interested&) const { return "interested"; }
    std::string operator()(const not_interested&) const { return "not interested"; }
    std::string operator()(const have_all&) const { return "have all"; }
    std::string operator()(const have_none&) const { return "have none"; }
    std::string operator()(const have& x) const { return "have #" + std::to_string(x.piece); }
    std::string operator()(const suggest& x) const { return "suggest #" + std::to_string(x.piece); }
    std::string operator()(const allowed_fast& x) const {
      return "allowed fast #" + std::to_string(x.piece);
    }
    std::string operator()(const bitfield& x) const {
      return "bitfield " + std::to_string(x.bits.size()) + " bytes";
    }
    std::string operator()(const request& x) const {
      return block_text("request", x.piece, x.begin, x.length);
    }
    std::string operator()(const cancel& x) const {
      return block_text("cancel", x.piece, x.begin, x.length);
    }
    std::string operator()(const reject_request& x) const {
      return block_text("reject", x.piece, x.begin, x.length);
    }
    std::string operator()(const piece& x) const {
      return block_text("piece", x.index, x.begin, static_cast<std::uint32_t>(x.data.size()));
    }
    std::string operator()(const port& x) const { return "port " + std::to_string(x.dht_port); }
    std::string operator()(const extended& x) const {
      return "extended " + std::to_string(x.id) + " " + std::to_string(x.payload.size()) + " bytes";
    }
    std::string operator()(const hash_request& x) const {
      return "hash request " + to_hex(x.root).substr(0, 8) + " base " + std::to_string(x.base) +
             " #" + std::to_string(x.index) + "+" + std::to_string(x.count);
    }
    std::string operator()(const hash_reject& x) const {
      return "hash reject " + to_hex(x.root).substr(0, 8) + " #" + std::to_string(x.index);
    }
    std::string operator()(const hashes& x) const {
      return "hashes " + to_hex(x.root).substr(0, 8) + " #" + std::to_string(x.index) + " " +
             std::to_string(x.values.size());
    }
    std::string operator()(const unknown& x) const {
      return "unknown id " + std::to_string(x.id) + " " + std::to_string(x.length) + " bytes";
    }
  };
  return std::visit(describer{}, m);
}

}  // namespace peerlab::protocol::bt

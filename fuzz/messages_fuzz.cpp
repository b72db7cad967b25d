// Message decoder: one frame payload in (all 15 message types: byte 0 is the
// type). Checks: a payload that decodes respects every limit of its type, has
// exactly one encoding (re-encoding gives back the same bytes, which decode
// to an equal message), survives framing, and can be printed and traced
// safely. A manifest_data's bytes go on through the manifest target's checks.

#include <algorithm>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"

namespace peerlab::fuzz {

namespace {

using namespace protocol;

bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// Whether `s` is well-formed UTF-8 (structure only: lead and continuation bytes).
bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const std::size_t n = lead < 0x80         ? 1
                          : lead >> 5 == 0x6  ? 2
                          : lead >> 4 == 0xe  ? 3
                          : lead >> 3 == 0x1e ? 4
                                              : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// printable_name: a prefix of the name, control characters made '?', short
// enough to send, and still UTF-8 if the name was.
void check_printable(std::string_view name) {
  const auto out = printable_name(name);
  FUZZ_CHECK(out.size() <= max_name_bytes && out.size() <= name.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    FUZZ_CHECK(out[i] == (is_control(name[i]) ? '?' : name[i]));
  FUZZ_CHECK(std::none_of(out.begin(), out.end(), is_control));
  if (is_utf8(name)) {
    FUZZ_CHECK(is_utf8(out));
    FUZZ_CHECK(out.size() == name.size() || out.size() + 3 >= max_name_bytes);
  }
}

void check_id(const content_id& id) {
  const auto back = content_id_from_hex(to_hex(id));
  FUZZ_CHECK(back.ok() && *back == id);
}

// The limits decode() promises, type by type.
struct limits_checker {
  void operator()(const hello& m) const {
    FUZZ_CHECK(m.name.size() <= max_name_bytes);
    check_printable(m.name);
    const auto problem = handshake_problem(m);
    FUZZ_CHECK(problem.empty() == (m.magic == protocol_magic && m.version == protocol_version));
    const auto id = node_id_from_hex(to_hex(m.id));
    FUZZ_CHECK(id.ok() && *id == m.id);
  }
  void operator()(const peers& m) const {
    FUZZ_CHECK(m.addresses.size() <= max_peers_per_message);
    for (const auto& e : m.addresses) {
      FUZZ_CHECK(e.family == ip_family::v4 || e.family == ip_family::v6);
      // What the peer table does with an address: print it, parse it back.
      const auto back = parse_endpoint(to_string(e));
      FUZZ_CHECK(back.ok() && *back == e);
      FUZZ_CHECK(!is_dialable(e, true) || is_loopback(e));
    }
  }
  void operator()(const catalog& m) const {
    FUZZ_CHECK(m.entries.size() <= max_catalog_entries);
    for (const auto& e : m.entries) {
      FUZZ_CHECK(is_safe_file_name(e.name));
      FUZZ_CHECK(e.size <= (e.folder ? max_folder_bytes : max_file_bytes));
      check_id(e.id);
      check_printable(e.name);
    }
  }
  void operator()(const manifest_data& m) const {
    FUZZ_CHECK(m.bytes.size() <= max_manifest_data_bytes);
    check_id(m.id);
    if (is_folder_manifest(m.bytes)) {
      fuzz_folder(m.bytes.data(), m.bytes.size());
    } else {
      fuzz_manifest(m.bytes.data(), m.bytes.size());
    }
  }
  void operator()(const chunk_map& m) const { FUZZ_CHECK(m.bits.size() <= max_chunks / 8); }
  void operator()(const chunk& m) const { FUZZ_CHECK(m.data.size() <= max_chunk_bytes); }
  template <class T>
  void operator()(const T&) const {}
};

}  // namespace

int fuzz_messages(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> payload(data, size);
  const auto decoded = decode(payload);
  // The in-place decoder (a chunk's data keeps the payload's buffer) agrees.
  const auto in_place = decode(std::vector<std::uint8_t>(payload.begin(), payload.end()));
  FUZZ_CHECK(in_place.ok() == decoded.ok());
  if (!decoded) {
    FUZZ_CHECK(!decoded.error_message().empty());
    FUZZ_CHECK(in_place.error_message() == decoded.error_message());
    return 0;
  }
  FUZZ_CHECK(*in_place == *decoded);
  const message& m = *decoded;
  FUZZ_CHECK(static_cast<std::size_t>(payload[0]) == m.index() + 1);  // the type byte
  std::visit(limits_checker{}, m);

  // One encoding per message: the same bytes again, and they decode equal.
  const auto encoded = encode(m);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), payload.begin(), payload.end()));
  const auto again = decode(encoded);
  FUZZ_CHECK(again.ok() && *again == m);

  // Exactly these bytes: one fewer is truncated, one more is trailing junk.
  FUZZ_CHECK(!decode(payload.first(payload.size() - 1)).ok());
  auto longer = encoded;
  longer.push_back(0);
  FUZZ_CHECK(!decode(longer).ok());

  // Through a frame and back, as it travels.
  frame_decoder frames;
  frames.feed(encode_frame(encoded));
  const auto framed = frames.next();
  FUZZ_CHECK(framed.ok() && framed->has_value() && **framed == encoded);

  // A chunk streamed from a file: its head, then the data, is the same frame.
  if (const auto* c = std::get_if<chunk>(&m)) {
    auto streamed =
        encode_frame_head({c->id, c->index, static_cast<std::uint32_t>(c->data.size())});
    streamed.insert(streamed.end(), c->data.begin(), c->data.end());
    FUZZ_CHECK(streamed == encode_frame(encoded));
  }

  // What the trace and the log print of it.
  FUZZ_CHECK(!type_name(m).empty());
  const auto line = describe(m);
  FUZZ_CHECK(line.starts_with(type_name(m)));
  FUZZ_CHECK(std::none_of(line.begin(), line.end(), is_control));
  return 0;
}

}  // namespace peerlab::fuzz

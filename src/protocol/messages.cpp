#include "protocol/messages.hpp"

#include <algorithm>
#include <bit>
#include <cereal/archives/portable_binary.hpp>
#include <istream>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <type_traits>

#include "protocol/byte_streams.hpp"
#include "protocol/frame.hpp"

namespace peerlab::protocol {

namespace {

// Thrown only inside decode() when a field breaks a limit; caught there.
struct limit_exceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// cereal's reader, knowing how many payload bytes are left: a length is
// checked against them too, so a 50-byte frame claiming a 4 MiB chunk costs
// nothing (found by fuzz/messages_fuzz.cpp).
class bounded_archive : public cereal::PortableBinaryInputArchive {
 public:
  bounded_archive(std::istream& stream, const span_source& source)
      : PortableBinaryInputArchive(stream, Options::Default()), source_(source) {}
  std::size_t bytes_left() const { return source_.remaining(); }

 private:
  const span_source& source_;
};
using output_archive = cereal::PortableBinaryOutputArchive;

// Reads a cereal size tag and refuses it before anything is allocated: above
// its maximum, or more items than bytes left (every item takes at least one).
std::size_t load_bounded_size(bounded_archive& ar, std::size_t max, const char* what) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  if (n > max) {
    throw limit_exceeded(std::string(what) + " of " + std::to_string(n) +
                         " exceeds the maximum of " + std::to_string(max));
  }
  if (n > ar.bytes_left()) {
    throw limit_exceeded("message truncated: " + std::string(what) + " of " + std::to_string(n) +
                         " but only " + std::to_string(ar.bytes_left()) + " bytes left");
  }
  return static_cast<std::size_t>(n);
}

void save_string(output_archive& ar, const std::string& s) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(s.size())));
  ar(cereal::binary_data(s.data(), s.size()));
}

std::string load_string(bounded_archive& ar, std::size_t max, const char* what) {
  std::string s(load_bounded_size(ar, max, what), '\0');
  ar(cereal::binary_data(s.data(), s.size()));
  return s;
}

void save_endpoint(output_archive& ar, const endpoint& e) {
  ar(static_cast<std::uint8_t>(e.family));
  ar(cereal::binary_data(e.ip.data(), e.family == ip_family::v4 ? 4 : 16));
  ar(e.port);
}

void save_id(output_archive& ar, const content_id& id) {
  ar(cereal::binary_data(id.data(), id.size()));
}

void load_id(bounded_archive& ar, content_id& id) {
  ar(cereal::binary_data(id.data(), id.size()));
}

void save_bytes(output_archive& ar, const std::vector<std::uint8_t>& v) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(v.size())));
  ar(cereal::binary_data(v.data(), v.size()));
}

std::vector<std::uint8_t> load_bytes(bounded_archive& ar, std::size_t max, const char* what) {
  std::vector<std::uint8_t> v(load_bounded_size(ar, max, what));
  ar(cereal::binary_data(v.data(), v.size()));
  return v;
}

endpoint load_endpoint(bounded_archive& ar) {
  std::uint8_t family = 0;
  ar(family);
  endpoint e;
  if (family == 4) {
    e.family = ip_family::v4;
    ar(cereal::binary_data(e.ip.data(), 4));
  } else if (family == 6) {
    e.family = ip_family::v6;
    ar(cereal::binary_data(e.ip.data(), 16));
  } else {
    throw limit_exceeded("unknown address family " + std::to_string(family));
  }
  ar(e.port);
  return e;
}

void save_body(output_archive& ar, const hello& m) {
  ar(m.magic, m.version);
  ar(cereal::binary_data(m.id.data(), m.id.size()));
  ar(m.listen_port);
  save_string(ar, m.name);
}
void save_body(output_archive&, const get_peers&) {}
void save_body(output_archive& ar, const peers& m) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(m.addresses.size())));
  for (const auto& e : m.addresses)
    save_endpoint(ar, e);
}
void save_body(output_archive&, const keepalive&) {}
void save_body(output_archive&, const get_catalog&) {}
void save_body(output_archive& ar, const catalog& m) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(m.entries.size())));
  for (const auto& e : m.entries) {
    save_id(ar, e.id);
    save_string(ar, e.name);
    ar(e.size, static_cast<std::uint8_t>((e.complete ? 1 : 0) | (e.folder ? 2 : 0)));
  }
}
void save_body(output_archive& ar, const get_manifest& m) {
  save_id(ar, m.id);
}
void save_body(output_archive& ar, const manifest_data& m) {
  save_id(ar, m.id);
  save_bytes(ar, m.bytes);
}
void save_body(output_archive& ar, const get_chunk_map& m) {
  save_id(ar, m.id);
}
void save_body(output_archive& ar, const chunk_map& m) {
  save_id(ar, m.id);
  save_bytes(ar, m.bits);
}
// have, request, reject and cancel share one layout: id, index.
template <class T>
requires std::is_same_v<T, have> || std::is_same_v<T, request> || std::is_same_v<T, reject> ||
    std::is_same_v<T, cancel>
void save_body(output_archive& ar, const T& m) {
  save_id(ar, m.id);
  ar(m.index);
}
void save_body(output_archive& ar, const chunk& m) {
  save_id(ar, m.id);
  ar(m.index);
  save_bytes(ar, m.data);
}

catalog_entry load_catalog_entry(bounded_archive& ar) {
  catalog_entry e;
  load_id(ar, e.id);
  e.name = load_string(ar, max_file_name_bytes, "file name length");
  // A name that could escape the download directory is refused here, so no
  // code past the decoder ever sees one.
  if (!is_safe_file_name(e.name)) throw limit_exceeded("unsafe file name in catalog");
  ar(e.size);
  std::uint8_t flags = 0;
  ar(flags);
  if (flags > 3) throw limit_exceeded("catalog flags must be 0 to 3 (complete 1, folder 2)");
  e.complete = (flags & 1) != 0;
  e.folder = (flags & 2) != 0;
  if (const auto max = e.folder ? max_folder_bytes : max_file_bytes; e.size > max) {
    throw limit_exceeded("file size of " + std::to_string(e.size) + " exceeds the maximum of " +
                         std::to_string(max));
  }
  return e;
}

template <class T>
void load_id_and_index(bounded_archive& ar, T& m) {
  load_id(ar, m.id);
  ar(m.index);
}

// Fills `out` in place (no temporary message: cheaper, and it keeps GCC 12's
// -Wmaybe-uninitialized false positive about std::variant quiet).
void load_body(bounded_archive& ar, message_type type, message& out) {
  switch (type) {
    case message_type::hello: {
      auto& m = out.emplace<hello>();
      ar(m.magic, m.version);
      ar(cereal::binary_data(m.id.data(), m.id.size()));
      ar(m.listen_port);
      m.name = load_string(ar, max_name_bytes, "name length");
      return;
    }
    case message_type::get_peers:
      out.emplace<get_peers>();
      return;
    case message_type::peers: {
      auto& m = out.emplace<peers>();
      m.addresses.resize(load_bounded_size(ar, max_peers_per_message, "peer count"));
      for (auto& e : m.addresses)
        e = load_endpoint(ar);
      return;
    }
    case message_type::keepalive:
      out.emplace<keepalive>();
      return;
    case message_type::get_catalog:
      out.emplace<get_catalog>();
      return;
    case message_type::catalog: {
      auto& m = out.emplace<catalog>();
      m.entries.resize(load_bounded_size(ar, max_catalog_entries, "catalog entry count"));
      for (auto& e : m.entries)
        e = load_catalog_entry(ar);
      return;
    }
    case message_type::get_manifest:
      load_id(ar, out.emplace<get_manifest>().id);
      return;
    case message_type::manifest_data: {
      auto& m = out.emplace<manifest_data>();
      load_id(ar, m.id);
      m.bytes = load_bytes(ar, max_manifest_data_bytes, "manifest length");
      return;
    }
    case message_type::get_chunk_map:
      load_id(ar, out.emplace<get_chunk_map>().id);
      return;
    case message_type::chunk_map: {
      auto& m = out.emplace<chunk_map>();
      load_id(ar, m.id);
      m.bits = load_bytes(ar, max_chunks / 8, "chunk map length");
      return;
    }
    case message_type::have:
      load_id_and_index(ar, out.emplace<have>());
      return;
    case message_type::request:
      load_id_and_index(ar, out.emplace<request>());
      return;
    case message_type::chunk: {
      auto& m = out.emplace<chunk>();
      load_id_and_index(ar, m);
      m.data = load_bytes(ar, max_chunk_bytes, "chunk length");
      return;
    }
    case message_type::reject:
      load_id_and_index(ar, out.emplace<reject>());
      return;
    case message_type::cancel:
      load_id_and_index(ar, out.emplace<cancel>());
      return;
  }
  throw limit_exceeded("unknown message type " + std::to_string(static_cast<int>(type)));
}

// The largest encoding of each bounded message must fit in one frame, or a
// valid message could not be sent. Type and flag bytes, then the fields.
constexpr std::size_t size_tag_bytes = 8;
constexpr std::size_t largest_chunk_payload = 2 + 32 + 4 + size_tag_bytes + max_chunk_bytes;
constexpr std::size_t largest_manifest_payload = 2 + 32 + size_tag_bytes + max_manifest_data_bytes;
constexpr std::size_t largest_catalog_payload =
    2 + size_tag_bytes + max_catalog_entries * (32 + size_tag_bytes + max_file_name_bytes + 8 + 1);
static_assert(largest_chunk_payload <= max_frame_bytes, "a full chunk must fit in one frame");
static_assert(largest_manifest_payload <= max_frame_bytes, "a manifest must fit in one frame");
static_assert(largest_catalog_payload <= max_frame_bytes, "a full catalog must fit in one frame");

// The variant lists the messages in type order, so a message's type is its
// index + 1; these checks keep the two from drifting apart.
template <message_type type, class T>
constexpr bool type_matches =
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(type) - 1, message>, T>;
static_assert(
    type_matches<message_type::hello, hello> && type_matches<message_type::get_peers, get_peers> &&
    type_matches<message_type::peers, peers> && type_matches<message_type::keepalive, keepalive> &&
    type_matches<message_type::get_catalog, get_catalog> &&
    type_matches<message_type::catalog, catalog> &&
    type_matches<message_type::get_manifest, get_manifest> &&
    type_matches<message_type::manifest_data, manifest_data> &&
    type_matches<message_type::get_chunk_map, get_chunk_map> &&
    type_matches<message_type::chunk_map, chunk_map> && type_matches<message_type::have, have> &&
    type_matches<message_type::request, request> && type_matches<message_type::chunk, chunk> &&
    type_matches<message_type::reject, reject> && type_matches<message_type::cancel, cancel>);
static_assert(std::variant_size_v<message> == static_cast<std::size_t>(message_type::cancel));

message_type type_of(const message& m) {
  return static_cast<message_type>(m.index() + 1);
}

}  // namespace

std::vector<std::uint8_t> encode(const message& m) {
  std::vector<std::uint8_t> out;
  out.push_back(static_cast<std::uint8_t>(type_of(m)));
  vector_sink sink(out);
  std::ostream stream(&sink);
  {
    output_archive ar(stream, output_archive::Options::LittleEndian());
    std::visit([&](const auto& body) { save_body(ar, body); }, m);
  }
  return out;
}

std::vector<std::uint8_t> encode_frame_head(const chunk_head& head) {
  // Room for the frame length first; it is known once the fields are written.
  std::vector<std::uint8_t> out;
  out.reserve(64);  // the whole head: 4 + 46 bytes
  out.resize(frame_header_bytes);
  out.push_back(static_cast<std::uint8_t>(message_type::chunk));
  {
    vector_sink sink(out);
    std::ostream stream(&sink);
    output_archive ar(stream, output_archive::Options::LittleEndian());
    save_id(ar, head.id);
    ar(head.index);
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(head.length)));
  }
  const auto length = encode_frame_length(
      static_cast<std::uint32_t>(out.size() - frame_header_bytes) + head.length);
  std::copy(length.begin(), length.end(), out.begin());
  return out;
}

namespace {

// Runs one decoding step. What the decoder throws (cereal on a short read,
// our limit checks) ends here as an error: none ever reaches the event loop.
template <class F>
result<message> guarded(F&& decode_step) {
  try {
    return decode_step();
  } catch (const limit_exceeded& e) {
    return error{e.what()};
  } catch (const cereal::Exception&) {
    return error{"message truncated"};
  } catch (const std::exception& e) {
    return error{std::string("malformed message: ") + e.what()};
  }
}

}  // namespace

result<message> decode(std::vector<std::uint8_t>&& payload) {
  if (payload.size() < 2 || payload[0] != static_cast<std::uint8_t>(message_type::chunk) ||
      payload[1] != 1) {
    return decode(std::span<const std::uint8_t>(payload));
  }
  // A chunk: read the fields before the data as decode() would, then let the
  // data keep the payload's buffer, shifted down over those fields.
  return guarded([&]() -> result<message> {
    span_source source(std::span<const std::uint8_t>(payload).subspan(1));
    std::istream stream(&source);
    bounded_archive ar(stream, source);
    chunk m;
    load_id_and_index(ar, m);
    const auto length = load_bounded_size(ar, max_chunk_bytes, "chunk length");
    // (load_bounded_size has checked that no fewer bytes are left.)
    if (source.remaining() != length) {
      return error{std::to_string(source.remaining() - length) + " unexpected bytes after message"};
    }
    payload.erase(payload.begin(), payload.end() - static_cast<std::ptrdiff_t>(length));
    m.data = std::move(payload);
    return message{std::move(m)};
  });
}

result<message> decode(std::span<const std::uint8_t> payload) {
  // Byte 0 is the type, byte 1 cereal's endianness flag: we only speak
  // little-endian (1), which keeps the format simple to reimplement.
  if (payload.size() < 2) return error{"message too short"};
  if (payload[1] != 1) return error{"message is not little-endian"};
  const auto type = static_cast<message_type>(payload[0]);
  return guarded([&]() -> result<message> {
    span_source source(payload.subspan(1));
    std::istream stream(&source);
    // Default: decode into this host's byte order; cereal swaps as the flag says.
    bounded_archive ar(stream, source);
    result<message> decoded{keepalive{}};
    load_body(ar, type, *decoded);
    if (source.remaining() != 0) {
      return error{std::to_string(source.remaining()) + " unexpected bytes after message"};
    }
    return decoded;
  });
}

std::string handshake_problem(const hello& h) {
  if (h.magic != protocol_magic) return "wrong magic number (not a peerlab peer)";
  if (h.version != protocol_version) {
    return "unsupported protocol version " + std::to_string(h.version) + " (we speak " +
           std::to_string(protocol_version) + ")";
  }
  return "";
}

std::string printable_name(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
  }
  if (out.size() <= max_name_bytes) return out;
  // Cut at a character boundary: never in the middle of a UTF-8 sequence.
  std::size_t end = max_name_bytes;
  while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xc0) == 0x80)
    --end;
  out.resize(end);
  return out;
}

std::string_view type_name(const message& m) {
  static constexpr std::string_view names[] = {
      "hello",   "get_peers",    "peers",         "keepalive",     "get_catalog",
      "catalog", "get_manifest", "manifest_data", "get_chunk_map", "chunk_map",
      "have",    "request",      "chunk",         "reject",        "cancel",
  };
  static_assert(std::size(names) == std::variant_size_v<message>);
  return names[m.index()];
}

namespace {

// Content ids are long; eight digits tell files apart on a screen.
std::string short_id(const content_id& id) {
  return to_hex(id).substr(0, 8);
}

}  // namespace

std::string describe(const chunk_head& head) {
  return "chunk " + short_id(head.id) + " #" + std::to_string(head.index) + ", " +
         std::to_string(head.length) + " bytes";
}

namespace {

struct describer {
  std::string operator()(const hello& m) const {
    return "hello " + printable_name(m.name) + " (" + to_hex(m.id).substr(0, 8) + ") port " +
           std::to_string(m.listen_port);
  }
  std::string operator()(const get_peers&) const { return "get_peers"; }
  std::string operator()(const peers& m) const {
    std::string out = "peers:";
    for (std::size_t i = 0; i < m.addresses.size() && i < 3; ++i)
      out += " " + to_string(m.addresses[i]);
    if (m.addresses.size() > 3) out += " and " + std::to_string(m.addresses.size() - 3) + " more";
    if (m.addresses.empty()) out += " none";
    return out;
  }
  std::string operator()(const keepalive&) const { return "keepalive"; }
  std::string operator()(const get_catalog&) const { return "get_catalog"; }
  std::string operator()(const catalog& m) const {
    std::string out = "catalog: " + std::to_string(m.entries.size()) + " files";
    if (!m.entries.empty()) out += ", first " + printable_name(m.entries.front().name);
    return out;
  }
  std::string operator()(const get_manifest& m) const { return "get_manifest " + short_id(m.id); }
  std::string operator()(const manifest_data& m) const {
    return "manifest_data " + short_id(m.id) + ", " + std::to_string(m.bytes.size()) + " bytes";
  }
  std::string operator()(const get_chunk_map& m) const { return "get_chunk_map " + short_id(m.id); }
  std::string operator()(const chunk_map& m) const {
    std::size_t set = 0;
    for (const auto byte : m.bits)
      set += static_cast<std::size_t>(std::popcount(byte));
    return "chunk_map " + short_id(m.id) + ": has " + std::to_string(set) + " chunks";
  }
  std::string operator()(const have& m) const {
    return "have " + short_id(m.id) + " #" + std::to_string(m.index);
  }
  std::string operator()(const request& m) const {
    return "request " + short_id(m.id) + " #" + std::to_string(m.index);
  }
  std::string operator()(const chunk& m) const {
    return describe(chunk_head{m.id, m.index, static_cast<std::uint32_t>(m.data.size())});
  }
  std::string operator()(const reject& m) const {
    return "reject " + short_id(m.id) + " #" + std::to_string(m.index);
  }
  std::string operator()(const cancel& m) const {
    return "cancel " + short_id(m.id) + " #" + std::to_string(m.index);
  }
};

}  // namespace

std::string describe(const message& m) {
  return std::visit(describer{}, m);
}

result<node_id> node_id_from_hex(std::string_view hex) {
  node_id id{};
  if (!from_hex(hex, id)) return error{"a node id is 32 lowercase hex digits"};
  return id;
}

}  // namespace peerlab::protocol

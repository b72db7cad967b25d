// BitTorrent wire decoder: a connection's byte stream in. Byte 0 of the
// input sets the decoder up (bit 0: expect the handshake; bit 1: small
// limits, so short inputs reach them); the rest is the stream. Checks: the
// same messages however the stream is split and whether blocks are received
// in place; every message within its limits; request lengths 1..128 KiB;
// the bytes held never exceed one message plus the last piece fed; after an
// error the decoder stays failed; re-encoding the messages gives back the
// stream they came from.

#include <algorithm>
#include <span>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/bt_wire_decoder.hpp"

namespace peerlab::fuzz {

namespace {

using namespace protocol::bt;

struct outcome {
  std::vector<message> messages;
  bool failed = false;
  bool operator==(const outcome&) const = default;
};

void check_limits(const message& m, const wire_limits& limits) {
  if (const auto* p = std::get_if<piece>(&m)) FUZZ_CHECK(p->data.size() <= limits.max_block_bytes);
  if (const auto* b = std::get_if<bitfield>(&m))
    FUZZ_CHECK(b->bits.size() <= limits.max_bitfield_bytes);
  if (const auto* e = std::get_if<extended>(&m))
    FUZZ_CHECK(e->payload.size() <= limits.max_extended_bytes);
  if (const auto* h = std::get_if<hashes>(&m)) FUZZ_CHECK(h->values.size() <= limits.max_hashes);
  if (const auto* r = std::get_if<request>(&m)) {
    FUZZ_CHECK(r->length > 0 && r->length <= max_request_bytes);
  }
  FUZZ_CHECK(!describe(m).empty());
}

outcome run(std::span<const std::uint8_t> stream, bool handshake, const wire_limits& limits,
            split how, bool direct) {
  wire_decoder d(handshake, limits);
  outcome out;
  std::size_t at = 0;
  for (const auto n : piece_sizes(stream, how)) {
    auto piece_bytes = stream.subspan(at, n);
    at += n;
    while (direct && !piece_bytes.empty()) {
      const auto space = d.direct_space();
      if (space.empty()) break;
      const auto k = std::min(space.size(), piece_bytes.size());
      std::copy_n(piece_bytes.begin(), k, space.begin());
      d.commit_direct(k);
      piece_bytes = piece_bytes.subspan(k);
    }
    d.feed(piece_bytes);
    // One message's worth, plus the piece just fed.
    FUZZ_CHECK(d.buffered_bytes() <= 4 + 1 + 48 + 32 * limits.max_hashes + 1024 * 1024 + 64 + n);
    while (true) {
      auto m = d.next();
      if (!m) {
        out.failed = true;
        FUZZ_CHECK(d.failed() && !d.next().ok());
        return out;
      }
      if (!*m) break;
      check_limits(**m, limits);
      out.messages.push_back(std::move(**m));
    }
  }
  return out;
}

}  // namespace

int fuzz_bt_wire(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool handshake = (data[0] & 1) != 0;
  wire_limits limits;
  if (data[0] & 2) {
    limits.max_block_bytes = 64;
    limits.max_bitfield_bytes = 8;
    limits.max_extended_bytes = 32;
    limits.max_hashes = 4;
    limits.max_unknown_bytes = 16;
  }
  const std::span<const std::uint8_t> stream(data + 1, size - 1);
  const auto first = run(stream, handshake, limits, split::whole, false);
  for (const auto how : all_splits)
    for (const bool direct : {false, true})
      FUZZ_CHECK(run(stream, handshake, limits, how, direct) == first);

  // Re-encoded, the messages are the stream's first bytes (an unknown
  // message's body is skipped, so only without one).
  const bool any_unknown =
      std::any_of(first.messages.begin(), first.messages.end(),
                  [](const message& m) { return std::holds_alternative<unknown>(m); });
  if (!any_unknown) {
    std::vector<std::uint8_t> again;
    for (const auto& m : first.messages) {
      const auto bytes = encode(m);
      again.insert(again.end(), bytes.begin(), bytes.end());
    }
    FUZZ_CHECK(again.size() <= stream.size());
    FUZZ_CHECK(std::equal(again.begin(), again.end(), stream.begin()));
  }
  // Who speaks what: a BitTorrent handshake is recognized as such.
  const auto kind = classify_first_bytes(stream);
  if (handshake && !first.messages.empty()) FUZZ_CHECK(kind == first_bytes::bittorrent);
  return 0;
}

}  // namespace peerlab::fuzz

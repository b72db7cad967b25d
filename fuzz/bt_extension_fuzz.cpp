// BEP 10 extension handshake and BEP 9 ut_metadata messages: the payload of
// an extended message from any peer. Checks: what decodes stays within its
// bounds and survives encoding and decoding again unchanged.

#include <span>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "protocol/bt_extension.hpp"

namespace peerlab::fuzz {

int fuzz_bt_extension(const std::uint8_t* data, std::size_t size) {
  using namespace protocol::bt;
  const std::span<const std::uint8_t> payload(data, size);
  const auto h = decode_extension_handshake(payload);
  if (h) {
    FUZZ_CHECK(h->m.size() <= max_extension_names);
    FUZZ_CHECK(h->client.size() <= max_client_name_bytes);
    if (h->metadata_size)
      FUZZ_CHECK(*h->metadata_size > 0 && *h->metadata_size <= max_metadata_bytes);
    const auto again = decode_extension_handshake(encode_extension_handshake(*h));
    FUZZ_CHECK(again.ok() && *again == *h);
  }
  for (const std::uint64_t max : {max_metadata_bytes, std::uint64_t{40'000}}) {
    const auto m = decode_metadata_message(payload, max);
    if (!m) continue;
    FUZZ_CHECK(m->piece < metadata_piece_count(max));
    if (m->type == metadata_type::data) {
      FUZZ_CHECK(m->total_size > 0 && m->total_size <= max);
      FUZZ_CHECK(m->data.size() <= metadata_piece_bytes);
      FUZZ_CHECK(m->piece < metadata_piece_count(m->total_size));
    } else {
      FUZZ_CHECK(m->data.empty());
    }
    const auto again = decode_metadata_message(encode_metadata_message(*m), max);
    FUZZ_CHECK(again.ok() && *again == *m);
  }
  return 0;
}

}  // namespace peerlab::fuzz

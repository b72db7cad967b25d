#pragma once
// Percent-encoding (RFC 3986) for what BitTorrent puts in URLs: 20 raw bytes
// of an info-hash in a tracker announce, names and tracker URLs in a
// magnet link.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace peerlab::protocol {

// Every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX.
std::string percent_encode(std::string_view bytes);

// %XX (either case) decoded; '+' becomes a space only when plus_is_space.
// nullopt for a broken escape or a result longer than max_bytes.
std::optional<std::string> percent_decode(std::string_view text, std::size_t max_bytes,
                                          bool plus_is_space = false);

}  // namespace peerlab::protocol

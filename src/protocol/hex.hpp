#pragma once
// Lowercase hex, as node ids and content ids are written for people.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace peerlab::protocol {

std::string to_hex(std::span<const std::uint8_t> bytes);
// Fills `out` from exactly 2 * out.size() lowercase hex digits; false otherwise.
bool from_hex(std::string_view hex, std::span<std::uint8_t> out);

}  // namespace peerlab::protocol

#pragma once
// RATE as the command line takes it (--up-limit, --down-limit). Pure: no
// sockets, no clocks, so it can be fuzzed on its own.

#include <cstdint>
#include <string_view>

#include "protocol/result.hpp"

namespace peerlab::peer {

// "0" (unlimited), "1000", "1000B", "500KiB", "8MiB", "1.5GiB" (binary units)
// or "500KB", "8MB", "1GB" (decimal units): bytes per second. Units are
// case-sensitive because "Mb" (bits) and "MB" are different things.
protocol::result<std::uint64_t> parse_rate(std::string_view text);

}  // namespace peerlab::peer

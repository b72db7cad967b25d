#pragma once
// One fuzz target per parser of untrusted bytes. Each feeds its input to the
// parser and checks what the parser promises: limits, round trips, the same
// answer however TCP splits the bytes. A broken promise aborts (FUZZ_CHECK),
// which libFuzzer reports as a finding; ASan and UBSan catch the rest.
//
// libFuzzer drives them through libfuzzer_main.cpp (scripts/fuzz), and
// tests/unit/fuzz_replay_test.cpp replays fuzz/corpus and fuzz/regressions
// through the very same functions in the normal test suite.

#include <cstddef>
#include <cstdint>

namespace peerlab::fuzz {

int fuzz_frame(const std::uint8_t* data, std::size_t size);           // protocol/frame
int fuzz_messages(const std::uint8_t* data, std::size_t size);        // protocol/messages
int fuzz_manifest(const std::uint8_t* data, std::size_t size);        // protocol/manifest
int fuzz_folder(const std::uint8_t* data, std::size_t size);          // protocol/folder_manifest
int fuzz_endpoint(const std::uint8_t* data, std::size_t size);        // protocol/endpoint
int fuzz_request_parser(const std::uint8_t* data, std::size_t size);  // http/request_parser
int fuzz_range(const std::uint8_t* data, std::size_t size);           // http/range
int fuzz_rate(const std::uint8_t* data, std::size_t size);            // peer/rate
int fuzz_bencode(const std::uint8_t* data, std::size_t size);         // protocol/bencode
int fuzz_torrent(const std::uint8_t* data, std::size_t size);         // protocol/torrent, magnet
int fuzz_bt_wire(const std::uint8_t* data, std::size_t size);         // protocol/bt_wire_decoder
int fuzz_bt_extension(const std::uint8_t* data, std::size_t size);    // protocol/bt_extension
int fuzz_bt_pex(const std::uint8_t* data, std::size_t size);          // protocol/bt_pex
int fuzz_tracker(const std::uint8_t* data, std::size_t size);         // protocol/tracker
int fuzz_beacon(const std::uint8_t* data, std::size_t size);          // protocol/beacon
int fuzz_bt_hashes(const std::uint8_t* data, std::size_t size);       // peer/bt_info

}  // namespace peerlab::fuzz

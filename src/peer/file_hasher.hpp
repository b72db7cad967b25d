#pragma once
// One pass over a file, on several threads, that computes everything the node
// needs to name and check it: the SHA-256 of every peerlab chunk and
// BitTorrent's v1 (SHA-1 per piece) and v2 (merkle tree of 16 KiB blocks)
// hashes, with the piece length equal to the chunk size, so that each thread
// hashes whole chunks, and a chunk is a piece. Blocking: meant for the disk
// layer's hashing lane.

#include <cstdint>
#include <vector>

#include "protocol/bt_hash.hpp"
#include "protocol/manifest.hpp"
#include "protocol/result.hpp"

namespace peerlab::peer {

struct file_hash_pass {
  std::vector<protocol::sha256_digest> chunk_hashes;  // empty unless asked for
  protocol::bt::file_hashes bt;                       // empty for an empty file
};

// Reads `size` bytes of the open file `fd` in chunks of `chunk_size`; false
// in `short_read` terms: an error if the file ends early or a read fails.
protocol::result<file_hash_pass> hash_pass(int fd, std::uint64_t size, std::uint32_t chunk_size,
                                           bool with_chunk_hashes);

}  // namespace peerlab::peer

#pragma once
// Making and reopening the files a download writes, never through a link
// someone planted at their paths (docs/security.md). Blocking: for the disk
// layer's lanes.

#include <cstdint>
#include <filesystem>

#include "protocol/result.hpp"

namespace peerlab::peer {

// Creates `path` as a new, empty (sparse) file of `size` bytes: made under a
// fresh name of its own (O_EXCL, which refuses to follow a link) and renamed
// over `path` (rename(2) replaces a link itself). The open descriptor.
protocol::result<int> create_private(const std::filesystem::path& path, std::uint64_t size);

// Opens a file an earlier run created (read-write, or read-only), refusing a
// symbolic link or anything else that is not a regular file in its place.
protocol::result<int> open_existing(const std::filesystem::path& path, bool writable = true);

// Creates the directories of `relative` under `root` (root itself too), one
// by one, refusing a symbolic link or a file where a directory is expected:
// a torrent's tree can never be led outside `root`.
protocol::result<std::monostate> make_directories_under(const std::filesystem::path& root,
                                                        const std::filesystem::path& relative);

}  // namespace peerlab::peer

#pragma once
// Blocking file-system helpers for placing a folder's files inside its
// target directory, never through a link: a symbolic link planted where a
// directory of the folder should be would otherwise lead the writes outside.

#include <filesystem>
#include <string_view>

#include "peer/store.hpp"

namespace peerlab::peer {

// Creates root (as the user named it) and then, one level at a time, the
// directories of `relative` inside it (all of them, or all but the last
// segment when that names a file). An existing one must be a real directory.
result<std::monostate> make_folder_directories(const fs::path& root, std::string_view relative,
                                               bool last_is_file);

// Removes what a run killed mid-way can leave in a folder being downloaded:
// files made under a fresh name (NAME.peerlab-partial.XXXXXX) and never
// renamed. Links are not followed. Returns how many were removed.
std::size_t remove_stray_temporaries(const fs::path& root);

// Copies a verified file to `to` (made under a fresh name of its own and
// renamed into place), for identical files of a folder fetched once.
result<file_stamp> copy_into_place(const fs::path& from, const fs::path& to);

}  // namespace peerlab::peer

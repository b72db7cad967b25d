#pragma once
// A multi-file torrent on disk. The download is one download over the
// torrent's piece space (protocol/torrent_files.hpp); its bytes go to files
// under `root`:
// - each selected file is written as ROOT/PATH.peerlab-partial (sparse) and
//   renamed to ROOT/PATH once every piece touching it is verified and it is
//   flushed, so a half-done tree never holds a wrong file under its name;
// - pad bytes are never written (they are zeros, and read as zeros);
// - bytes of files not selected (`--only`) that share a wanted piece go to
//   one sparse side file in the data directory, at their piece-space
//   offsets, so that piece stays verifiable and servable — never into the
//   tree.
// The functions marked blocking run on the disk layer's lanes.

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "peer/chunk_check.hpp"
#include "peer/chunk_set.hpp"
#include "peer/file_handle.hpp"
#include "protocol/manifest.hpp"
#include "protocol/result.hpp"
#include "protocol/torrent_files.hpp"

namespace peerlab::peer {

namespace fs = std::filesystem;
class file_pool;

struct torrent_tree {
  protocol::content_id id{};
  fs::path root;
  fs::path side;  // the side file; empty when every file is selected
  std::shared_ptr<const protocol::bt::file_layout> layout;
  std::vector<std::string> only;  // as asked (`--only`); empty: every file
  std::vector<bool> selected;     // per layout file (pads never)
  std::vector<bool> wanted;       // per piece: it touches a selected file

  fs::path final_path(std::size_t i) const;
  fs::path partial_path(std::size_t i) const;
  bool all_selected() const { return side.empty(); }
};

// The tree of `layout` at `root`, with the files `only` names; an error for
// a path that names none. `data_dir`: where the side file goes.
protocol::result<std::shared_ptr<const torrent_tree>> make_torrent_tree(
    const protocol::content_id& id, fs::path root, const fs::path& data_dir,
    std::shared_ptr<const protocol::bt::file_layout> layout, std::vector<std::string> only);

// Whether every piece touching file i is in `have` (an empty file: true).
bool file_verified(const torrent_tree& t, std::size_t i, const chunk_set& have);
// The selected files whose pieces are all in `have` and that are not `placed`
// yet: among all files, or (cheaper: called after each piece) among those
// that `pieces` touch.
std::vector<std::size_t> files_ready(const torrent_tree& t, const chunk_set& have,
                                     const std::vector<bool>& placed);
std::vector<std::size_t> files_ready(const torrent_tree& t, const chunk_set& have,
                                     const std::vector<bool>& placed,
                                     const std::vector<std::uint32_t>& pieces);

// Blocking: makes the directories (refusing links), each selected file's
// partial file unless it is in place already, and the side file. Returns
// per layout file whether it is in place (its pieces all verified, its
// partial file gone, the file there at its size).
protocol::result<std::vector<bool>> prepare_tree(const torrent_tree& t, const chunk_set& have);

// Blocking: writes a verified piece (at `offset` of the piece space) to the
// files it covers.
protocol::result<std::monostate> write_piece(file_pool& pool, const torrent_tree& t,
                                             std::uint64_t offset,
                                             std::span<const std::uint8_t> data);
// Blocking: where bytes [offset, offset + length) of the piece space are,
// as open files (pads: zeros), brought into the page cache.
protocol::result<std::vector<file_part>> open_parts(file_pool& pool, const torrent_tree& t,
                                                    std::uint64_t offset, std::uint64_t length);
// Blocking: files `which` flushed and renamed into place.
protocol::result<std::monostate> place_files(file_pool& pool, const torrent_tree& t,
                                             const std::vector<std::size_t>& which);

}  // namespace peerlab::peer

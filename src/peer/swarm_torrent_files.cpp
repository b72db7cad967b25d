// Multi-file torrents: one download over the torrent's piece space whose
// files (torrent_tree) are renamed into place one by one, each as soon as
// every piece touching it is verified; the download completes once every
// selected file is in place. Shown like a folder's transfer: per file.

#include "peer/log.hpp"
#include "peer/swarm.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;
namespace bt = protocol::bt;

asio::awaitable<void> swarm::finish_tree(std::shared_ptr<download> d) {
  // One placing pass at a time; it goes on while files become ready.
  if (d->placing) co_return;
  d->placing = true;
  bool placed_any = d->place_all;  // (at the start: completion is checked once)
  for (;;) {
    const auto* item = store_.find(d->id());
    if (d->state() != download_state::downloading || !item || item->complete) break;
    // Only the files the pieces written since the last pass touch can be
    // ready: no scan of a 100 000-file tree after every piece.
    auto ready = d->place_all
                     ? files_ready(*item->tree, item->have, item->placed)
                     : files_ready(*item->tree, item->have, item->placed, d->pieces_to_place);
    d->place_all = false;
    d->pieces_to_place.clear();
    if (ready.empty()) break;
    placed_any = true;
    auto placing = disk_.place_files(item->tree, ready);
    auto placed = co_await std::move(placing);
    if (!placed) {
      d->placing = false;
      co_return fail(*d, placed.error_message());
    }
    for (const auto i : ready)
      store_.mark_placed(d->id(), i);
  }
  d->placing = false;
  const auto* item = store_.find(d->id());
  // Every selected file in place means every wanted piece is verified.
  if (!placed_any || d->state() != download_state::downloading || !item || item->complete)
    co_return;
  if (d->finishing || d->writing()) {
    d->place_all = true;  // looked at again when that piece is done
    co_return;
  }
  for (std::size_t i = 0; i < item->placed.size(); ++i)
    if (item->tree->selected[i] && !item->placed[i]) co_return;
  d->finishing = true;
  store_.complete_download(d->id(), file_stamp{});
  co_await disk_.flush();  // "complete" only once the catalog says so on disk
  d->finishing = false;
  completed(*d, "pieces");
}

void swarm::tree_progress(const content& item, transfer_info& t) const {
  const auto& tree = *item.tree;
  const auto& layout = *tree.layout;
  for (std::size_t i = 0; i < layout.files.size(); ++i) {
    const auto& f = layout.files[i];
    if (f.pad) continue;
    folder_file_progress p;
    p.path = f.path;
    p.size = f.length;
    const auto span = bt::pieces_of(layout, i);
    for (auto piece = span.first; piece < span.end; ++piece) {
      if (!item.have.has(static_cast<std::size_t>(piece))) continue;
      const auto from = std::max(f.offset, piece * layout.piece_length);
      const auto to = std::min(f.offset + f.length, (piece + 1) * layout.piece_length);
      p.bytes_done += to - from;
    }
    p.state = !tree.selected[i]  ? "skipped"
              : item.placed[i]   ? "done"
              : p.bytes_done > 0 ? "downloading"
                                 : "waiting";
    t.files.push_back(std::move(p));
  }
}

}  // namespace peerlab::peer

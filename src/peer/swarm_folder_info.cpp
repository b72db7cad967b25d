// What a folder transfer shows (the API, `status`, the dashboard's tree): the
// sum of its files' downloads, and each file's own progress.

#include "peer/swarm.hpp"

namespace peerlab::peer {

using clock = std::chrono::steady_clock;

namespace {

const char* to_string(folder_transfer::phase p) {
  switch (p) {
    case folder_transfer::phase::starting:
      return "manifest";
    case folder_transfer::phase::downloading:
      return "downloading";
    case folder_transfer::phase::complete:
      return "complete";
    case folder_transfer::phase::failed:
      break;
  }
  return "failed";
}

}  // namespace

transfer_info swarm::folder_info(const folder_transfer& f) const {
  const auto now = clock::now();
  const auto& entries = f.record.manifest.entries;
  transfer_info t;
  t.id = protocol::to_hex(f.record.id);
  t.name = f.record.manifest.name;
  t.output = f.record.root.string();
  t.state = to_string(f.state);
  t.error = f.error;
  t.folder = true;
  // Chunks of each file once (identical files are fetched once): the
  // file's own count from its size, done if it is in place anywhere.
  std::set<protocol::content_id> counted;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    folder_file_progress p{e.path, e.size, !e.is_file(), "skipped", 0};
    const bool selected = i < f.selected.size() && f.selected[i];
    const auto d = selected && e.is_file() ? downloads_.find(e.id) : downloads_.end();
    const auto* item = selected && e.is_file() ? store_.find(e.id) : nullptr;
    if (selected) {
      t.size += e.size;
      p.state = f.record.stamps[i] || !e.is_file() ? "done" : "waiting";
      if (p.state == "done") {
        p.bytes_done = e.size;
      } else if (item && !item->complete && f.running.contains(e.id)) {
        p.state = "downloading";
        for (std::size_t c = 0; c < item->have.size(); ++c) {
          if (item->have.has(c)) p.bytes_done += item->manifest.chunk_length(c);
        }
      }
      t.bytes_done += p.bytes_done;
    }
    if (selected && e.is_file() && counted.insert(e.id).second) {
      const auto chunk = protocol::chunk_size_for(e.size);
      const auto chunks = static_cast<std::size_t>((e.size + chunk - 1) / chunk);
      t.chunks_total += chunks;
      t.chunks_done += item && item->complete ? chunks : item ? item->have.count() : 0;
      if (d != downloads_.end()) {
        const auto stats = d->second->stats(now);
        t.chunks_fetched += stats.fetched;
        t.chunks_rejected += stats.rejected;
        t.rate += stats.rate;
        t.peers = std::max(t.peers, stats.peers);
        for (const auto& [peer, n] : stats.sources)
          t.sources[peer] += n;
      }
    }
    t.files.push_back(std::move(p));
  }
  t.chunks_resumed = t.chunks_done > t.chunks_fetched ? t.chunks_done - t.chunks_fetched : 0;
  if (t.rate > 0 && f.active()) t.eta_seconds = static_cast<double>(t.size - t.bytes_done) / t.rate;
  return t;
}

}  // namespace peerlab::peer

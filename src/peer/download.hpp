#pragma once
// One download: the manifest phase, then the request pipeline. It owns the
// state it keeps about each peer that holds the content (chunk map, requests
// in flight, request window), so a peer that leaves is one erase. It talks to
// peers only through chunk_source, so it does not care which wire protocol a
// chunk comes over. It does no I/O: the swarm verifies and writes chunks
// through the disk layer and reports back here.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "peer/chunk_set.hpp"
#include "peer/chunk_source.hpp"
#include "peer/piece_picker.hpp"
#include "peer/request_window.hpp"
#include "peer/store.hpp"

namespace peerlab::peer {

enum class download_state { manifest, downloading, complete, failed };
const char* to_string(download_state s);

class download {
 public:
  using clock = std::chrono::steady_clock;
  using source_key = std::uint64_t;

  download(protocol::content_id id, download_settings s) : id_(id), s_(s) {}

  const protocol::content_id& id() const { return id_; }
  download_state state() const { return state_; }
  bool active() const {
    return state_ == download_state::manifest || state_ == download_state::downloading;
  }
  const protocol::manifest& manifest() const { return manifest_; }
  const std::string& error() const { return error_; }

  // What the user asked for, and what the manifest then said.
  std::string name;
  std::uint64_t size = 0;
  fs::path output;                // the target file (empty until known)
  fs::path directory;             // where NAME goes when no output was given
  std::vector<std::string> only;  // a multi-file torrent's files to fetch (empty: all)
  clock::time_point started = clock::now();
  bool finishing = false;  // every chunk is in: being flushed and renamed into place
  bool placing = false;    // a multi-file torrent's files being renamed into place
  // A multi-file torrent: pieces written since its files were last looked
  // at (only the files they touch can have become ready), or every file.
  std::vector<std::uint32_t> pieces_to_place;
  bool place_all = true;

  // Manifest phase: whom we asked, when, and who has had a go.
  std::optional<source_key> manifest_from;
  clock::time_point manifest_asked{};
  std::set<source_key> manifest_tried;

  // Manifest known and the partial file ready: requests may start.
  void begin(protocol::manifest m, std::size_t resumed_chunks);
  // After begin: chunks never to ask for (wanted[i] false; empty: all wanted).
  void want_only(const std::vector<bool>& wanted);
  void complete();
  // Gives up: requests in flight are cancelled (their chunks, if they still
  // come, are expected and ignored unless a retry wants them).
  void fail(std::string why);
  // A retry of a failed download: back to the manifest phase.
  void restart();

  // A holder's chunk map (replacing what we knew), or one more chunk it has.
  void set_map(chunk_source& peer, chunk_set has);
  // False if the index is out of range (a protocol violation).
  bool add_have(chunk_source& peer, std::uint32_t index);
  void remove_source(source_key peer);
  bool knows(source_key peer) const { return sources_.contains(peer); }

  // Sends requests to `peer` until its window is full or nothing is left.
  void fill(chunk_source& peer, const chunk_set& we_have, clock::time_point now);
  void fill_all(const chunk_set& we_have, clock::time_point now);
  void on_reject(source_key peer, std::uint32_t index, clock::time_point now);

  enum class arrival { verify, ignore, unrequested };
  // A chunk arrived from `peer`: verify it, ignore it (a duplicate, or for an
  // attempt that ended), or it was never requested (the peer cheats).
  arrival on_chunk(source_key peer, std::uint32_t index);
  // The disk layer verified and wrote it (from `peer`, who may be gone).
  void on_written(source_key peer, const std::string& from, std::uint32_t index,
                  clock::time_point now);
  // It did not match its hash, or could not be written.
  void on_not_written(source_key peer, std::uint32_t index, bool corrupt);
  bool writing() const { return writing_ > 0; }

  // Gives the requests of peers that stopped delivering to others.
  void check_timeouts(clock::time_point now);
  // When a chunk (or a good part of one) last arrived, or the download began.
  clock::time_point last_progress() const { return progress_; }

  // For the API: `item` is the store's record (may be null).
  struct progress {
    std::size_t resumed, fetched, rejected, peers;
    double rate;
    const std::map<std::string, std::size_t>& sources;
    const std::vector<std::string>& chunk_sources;
  };
  progress stats(clock::time_point now) const;
  bool busy(std::size_t chunk) const;  // requested or being verified

 private:
  struct source {
    source(chunk_source* l, chunk_set h, const request_window_settings& w)
        : link(l), has(std::move(h)), window(w) {}
    chunk_source* link;
    chunk_set has;
    request_window window;
    std::map<std::uint32_t, clock::time_point> requests;  // in flight, since
    // Requests taken back (answered elsewhere, timed out, or the download
    // failed): their chunks may still come, crossing our cancel, and are no
    // violation then; one we still need is kept if it verifies.
    std::map<std::uint32_t, clock::time_point> cancelled;
    std::map<std::uint32_t, clock::time_point> declined_until;
    std::size_t writing = 0;       // its chunks being verified: they count in its window
    clock::time_point progress{};  // its last delivery, or when it was first asked
    std::uint64_t bytes_seen = 0;  // its connection's bytes_received() then
  };

  void cancel_request(source& s, std::uint32_t index, clock::time_point now);
  std::size_t active_requests(const source& s) const;

  protocol::content_id id_;
  download_settings s_;
  download_state state_ = download_state::manifest;
  std::string error_;
  protocol::manifest manifest_;
  std::unique_ptr<piece_picker> picker_;
  std::map<source_key, source> sources_;
  std::vector<std::uint8_t> requested_;  // outstanding requests per chunk
  std::vector<bool> verifying_;          // per chunk: a copy is on the disk layer now
  std::size_t writing_ = 0;
  clock::time_point progress_{};
  std::size_t resumed_ = 0;
  std::size_t fetched_ = 0;
  std::size_t rejected_ = 0;
  std::map<std::string, std::size_t> from_;  // peer name -> chunks it sent
  std::vector<std::string> chunk_sources_;
  std::deque<std::pair<clock::time_point, std::uint64_t>> recent_;  // for the rate
};

}  // namespace peerlab::peer

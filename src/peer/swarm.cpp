#include "peer/swarm.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <tuple>

#include "peer/log.hpp"

namespace peerlab::peer {

using asio::use_awaitable;
using clock = std::chrono::steady_clock;
using protocol::content_id;
using protocol::node_id;

namespace {

// Runs f() on the pool and resumes the calling coroutine on its own thread.
// (Wrapped in optional because co_spawn needs a default-constructible result.)
// GCC 12 may destroy temporaries inside a co_await expression twice, so
// callers pass only named or trivially destructible function objects, and
// the task below is a named local for the same reason.
template <class F>
auto on_pool(asio::thread_pool& pool, F& f) -> asio::awaitable<decltype(f())> {
  using R = decltype(f());
  auto task = [&f]() -> asio::awaitable<std::optional<R>> { co_return f(); };
  auto r = co_await asio::co_spawn(pool, task, use_awaitable);
  co_return std::move(*r);
}

std::string short_id(const node_id& id) {
  return protocol::to_hex(id).substr(0, 8);
}

// The test-only fault switch (swarm_settings::corrupt_uploads): the chunk is
// read into memory and one byte flipped. (The normal path never copies it.)
void send_corrupted(connection& conn, const protocol::request& req, const file_handle& file,
                    std::uint64_t offset, std::uint32_t length) {
  auto data = store::read_at(file, offset, length);
  if (!data) return conn.send(protocol::reject{req.id, req.index});
  if (!data->empty()) (*data)[data->size() / 2] ^= 0x5a;
  conn.send(protocol::chunk{req.id, req.index, std::move(*data)});
}

}  // namespace

struct swarm::peer_state {
  std::shared_ptr<connection> conn;
  node_id id{};
  std::string name;
  std::vector<protocol::catalog_entry> catalog;
  std::set<content_id> subscribed;  // asked for our chunk map: gets `have`s
  std::deque<queued_upload> uploads;
  bool uploading = false;
  std::uint64_t upload_turn = 0;  // when it was last sent a chunk (0: never)
  // Requests we declined once because others needed chunks nobody has yet;
  // asked again, they are served (so declining can never starve anyone).
  std::set<std::pair<content_id, std::uint32_t>> declined;
};

struct swarm::download {
  struct request_state {
    clock::time_point sent;
    bool cancelled = false;  // answered elsewhere; its chunk is ignored
  };

  content_id id{};
  std::string name;
  std::uint64_t size = 0;
  fs::path output;
  fs::path directory;
  std::string state = "manifest";
  std::string error;
  clock::time_point started = clock::now();

  // Manifest phase.
  std::optional<node_id> manifest_from;
  clock::time_point manifest_asked{};
  std::set<node_id> manifest_tried;

  // Download phase.
  protocol::manifest manifest;
  std::unique_ptr<piece_picker> picker;
  std::map<node_id, chunk_set> peer_maps;
  std::set<node_id> maps_asked;
  std::map<node_id, std::map<std::uint32_t, request_state>> in_flight;
  std::map<node_id, std::set<std::uint32_t>> late;  // asked for before a failure
  // Chunks a peer rejected: not asked of it again until the time given.
  std::map<node_id, std::map<std::uint32_t, clock::time_point>> declined_by;
  std::vector<std::uint8_t> requested;  // outstanding requests per chunk
  std::size_t writing = 0;              // chunks on the pool being verified and written
  // Per peer, of those: a chunk counts against its sender's pipeline until it
  // is written, so memory waiting for the pool stays bounded by the pipeline.
  std::map<node_id, std::size_t> writing_from;
  std::vector<bool> verifying;  // per chunk: a copy is on the pool right now
  std::size_t resumed = 0;
  std::size_t fetched = 0;
  std::size_t rejected = 0;
  std::map<std::string, std::size_t> sources;
  std::vector<std::string> chunk_sources;
  std::deque<std::pair<clock::time_point, std::uint64_t>> recent;  // for the rate
};

// Counts one chunk as being uploaded for as long as it lives: from its pick
// until it is written (or given up), whichever way the loop iteration ends.
struct swarm::upload_slot {
  explicit upload_slot(swarm& s) : owner(s) { ++owner.uploads_active_; }
  ~upload_slot() {
    --owner.uploads_active_;
    owner.wake_upload_loops();
  }
  upload_slot(const upload_slot&) = delete;
  upload_slot& operator=(const upload_slot&) = delete;
  swarm& owner;
};

swarm::swarm(asio::io_context& io, store& storage, swarm_settings settings)
    : io_(io), store_(storage), settings_(settings), tick_(io), upload_waiters_(io) {}

swarm::~swarm() {
  pool_.join();
}

void swarm::start() {
  running_ = true;
  // Downloads interrupted by a stop or a crash carry on where they were.
  for (const auto& [id, item] : store_.items()) {
    if (item.complete) continue;
    auto d = std::make_unique<download>();
    d->id = id;
    d->name = item.manifest.name;
    d->size = item.manifest.size;
    d->output = item.path;
    begin_download(*downloads_.emplace(id, std::move(d)).first->second, item.manifest);
  }
  for (const auto& [id, u] : store_.unavailable()) {
    auto d = std::make_unique<download>();
    d->id = id;
    d->name = u.first.manifest.name;
    d->size = u.first.manifest.size;
    d->output = u.first.path;
    d->manifest = u.first.manifest;
    fail(*downloads_.emplace(id, std::move(d)).first->second, "cannot resume: " + u.second);
  }
  asio::co_spawn(io_, maintenance_loop(), asio::detached);
}

void swarm::stop() {
  running_ = false;
  tick_.cancel();
  wake_upload_loops();
  wake_end_waiters();
}

asio::awaitable<void> swarm::wait_for_end(content_id id, duration at_most) {
  const auto d = downloads_.find(id);
  if (!running_ || d == downloads_.end() || d->second->state == "complete" ||
      d->second->state == "failed") {
    co_return;
  }
  asio::steady_timer timer(io_, at_most);
  // Registered for exactly as long as this frame lives, however it ends.
  struct registration {
    std::set<asio::steady_timer*>& waiters;
    asio::steady_timer* timer;
    ~registration() { waiters.erase(timer); }
  };
  end_waiters_.insert(&timer);
  const registration registered{end_waiters_, &timer};
  std::error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

void swarm::wake_end_waiters() {
  for (auto* waiter : end_waiters_)
    waiter->cancel();
}

bool swarm::is_banned(const node_id& id) const {
  const auto it = banned_until_.find(id);
  return it != banned_until_.end() && it->second > clock::now();
}

// ---------------------------------------------------------------- peers ---

void swarm::on_connected(const std::shared_ptr<connection>& c) {
  auto p = std::make_unique<peer_state>();
  p->conn = c;
  p->id = c->peer_hello()->id;
  p->name = c->peer_hello()->name.empty() ? short_id(p->id) : c->peer_hello()->name;
  peers_[p->id] = std::move(p);
  c->send(protocol::get_catalog{});
}

void swarm::on_disconnected(const std::shared_ptr<connection>& c) {
  const auto it = peers_.find(c->peer_hello()->id);
  if (it == peers_.end() || it->second->conn != c) return;
  for (auto& [id, d] : downloads_) {
    forget_requests(*d, it->first);
    if (auto m = d->peer_maps.find(it->first); m != d->peer_maps.end()) {
      if (d->picker) d->picker->remove_availability(m->second);
      d->peer_maps.erase(m);
    }
    d->maps_asked.erase(it->first);
    d->declined_by.erase(it->first);
    d->late.erase(it->first);
    if (d->manifest_from == it->first) d->manifest_from.reset();
  }
  peers_.erase(it);
  wake_upload_loops();  // it may have been next in turn
  fill_all();
}

void swarm::ban(peer_state& p, const std::string& why) {
  log_line(log_level::warn)
      << "banning " << p.name << " (" << short_id(p.id) << ") for "
      << std::chrono::duration_cast<std::chrono::minutes>(settings_.ban_duration).count()
      << " min: " << why;
  banned_until_[p.id] = clock::now() + settings_.ban_duration;
  p.conn->close("banned: " + why);
}

bool swarm::handle(const std::shared_ptr<connection>& c, protocol::message& m) {
  const auto it = peers_.find(c->peer_hello()->id);
  if (it == peers_.end()) return true;
  peer_state& p = *it->second;
  return std::visit(
      [&](auto& body) -> bool {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, protocol::get_catalog>) {
          c->send(own_catalog());
        } else if constexpr (std::is_same_v<T, protocol::catalog>) {
          on_catalog(p, body);
        } else if constexpr (std::is_same_v<T, protocol::get_manifest>) {
          const auto* item = store_.find(body.id);
          c->send(protocol::manifest_data{body.id, item ? protocol::encode_manifest(item->manifest)
                                                        : std::vector<std::uint8_t>{}});
        } else if constexpr (std::is_same_v<T, protocol::manifest_data>) {
          on_manifest(p, body);
        } else if constexpr (std::is_same_v<T, protocol::get_chunk_map>) {
          const auto* item = store_.find(body.id);
          if (item) p.subscribed.insert(body.id);
          c->send(protocol::chunk_map{body.id,
                                      item ? item->have.to_bits() : std::vector<std::uint8_t>{}});
        } else if constexpr (std::is_same_v<T, protocol::chunk_map>) {
          return on_chunk_map(p, body);
        } else if constexpr (std::is_same_v<T, protocol::have>) {
          return on_have(p, body);
        } else if constexpr (std::is_same_v<T, protocol::request>) {
          return on_request(p, body);
        } else if constexpr (std::is_same_v<T, protocol::chunk>) {
          asio::co_spawn(io_, receive_chunk(p.id, std::move(body)), asio::detached);
        } else if constexpr (std::is_same_v<T, protocol::reject>) {
          on_reject(p, body);
        } else if constexpr (std::is_same_v<T, protocol::cancel>) {
          std::erase_if(p.uploads, [&](const auto& q) {
            return q.request.id == body.id && q.request.index == body.index;
          });
          wake_upload_loops();  // it may no longer be next in turn
        }
        return true;
      },
      m);
}

// ------------------------------------------------------------- catalogs ---

protocol::catalog swarm::own_catalog() const {
  protocol::catalog out;
  for (const auto& [id, item] : store_.items()) {
    if (out.entries.size() >= protocol::max_catalog_entries) break;
    out.entries.push_back({id, item.manifest.name, item.manifest.size, item.complete});
  }
  return out;
}

void swarm::broadcast_catalog() {
  const auto catalog = own_catalog();
  for (auto& [id, p] : peers_)
    p->conn->send(catalog);
}

void swarm::on_catalog(peer_state& p, protocol::catalog m) {
  p.catalog = std::move(m.entries);
  for (const auto& entry : p.catalog) {
    const auto it = downloads_.find(entry.id);
    if (it == downloads_.end()) continue;
    auto& d = *it->second;
    if (d.state == "manifest" && !d.manifest_from) ask_manifest(d);
    if (d.state == "downloading") ask_chunk_maps(d);
  }
}

std::size_t swarm::holders_of(const content_id& id) const {
  std::size_t n = 0;
  for (const auto& [pid, p] : peers_) {
    n += std::any_of(p->catalog.begin(), p->catalog.end(),
                     [&](const auto& e) { return e.id == id; });
  }
  return n;
}

// ------------------------------------------------------------ manifests ---

void swarm::ask_manifest(download& d) {
  for (const auto& [pid, p] : peers_) {
    if (d.manifest_tried.contains(pid)) continue;
    const bool holds = std::any_of(p->catalog.begin(), p->catalog.end(),
                                   [&](const auto& e) { return e.id == d.id; });
    if (!holds) continue;
    d.manifest_from = pid;
    d.manifest_asked = clock::now();
    d.manifest_tried.insert(pid);
    p->conn->send(protocol::get_manifest{d.id});
    return;
  }
  d.manifest_from.reset();
  d.manifest_tried.clear();  // everyone had a go: start over when someone new shows up
}

void swarm::on_manifest(peer_state& p, const protocol::manifest_data& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end() || it->second->state != "manifest" ||
      it->second->manifest_from != p.id) {
    return;  // a late answer to a question we gave up on
  }
  auto& d = *it->second;
  d.manifest_from.reset();
  if (m.bytes.empty()) {
    ask_manifest(d);
    return;
  }
  if (protocol::id_of_encoded(m.bytes) != d.id) {
    ban(p, "sent a manifest that does not match its content id");
    ask_manifest(d);
    return;
  }
  // The right bytes but not a valid manifest: whoever made the id made it so.
  auto decoded = protocol::decode_manifest(m.bytes);
  if (!decoded)
    return fail(d, "the manifest of this content id is invalid: " + decoded.error_message());
  begin_download(d, std::move(*decoded));
}

void swarm::begin_download(download& d, protocol::manifest m) {
  d.name = m.name;
  d.size = m.size;
  if (d.output.empty()) d.output = d.directory / m.name;
  if (!store_.find(d.id)) {
    if (auto added = store_.add_download(m, d.output); !added)
      return fail(d, added.error_message());
  }
  const auto* item = store_.find(d.id);
  d.manifest = std::move(m);
  d.state = "downloading";
  d.picker = std::make_unique<piece_picker>(d.manifest.chunk_count());
  d.requested.assign(d.manifest.chunk_count(), 0);
  d.chunk_sources.assign(d.manifest.chunk_count(), "");
  d.verifying.assign(d.manifest.chunk_count(), false);
  d.resumed = item->have.count();
  log_line(log_level::info) << "downloading " << d.name << " ("
                            << protocol::to_hex(d.id).substr(0, 12) << ", "
                            << d.manifest.chunk_count() << " chunks, " << d.resumed
                            << " already verified) to " << d.output.string();
  broadcast_catalog();  // we hold part of it now, and serve what we have
  ask_chunk_maps(d);
  finish(d);  // an empty file, or one whose every chunk was already on disk
}

// --------------------------------------------------------------- chunks ---

void swarm::ask_chunk_maps(download& d) {
  for (const auto& [pid, p] : peers_) {
    if (d.maps_asked.contains(pid)) continue;
    const bool holds = std::any_of(p->catalog.begin(), p->catalog.end(),
                                   [&](const auto& e) { return e.id == d.id; });
    if (!holds) continue;
    d.maps_asked.insert(pid);
    p->conn->send(protocol::get_chunk_map{d.id});
  }
}

bool swarm::on_chunk_map(peer_state& p, const protocol::chunk_map& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end() || it->second->state != "downloading") return true;
  auto& d = *it->second;
  auto map = chunk_set::from_bits(m.bits, d.manifest.chunk_count());
  if (!map) {
    p.conn->close("chunk map of the wrong size");
    return false;
  }
  if (auto old = d.peer_maps.find(p.id); old != d.peer_maps.end())
    d.picker->remove_availability(old->second);
  d.picker->add_availability(*map);
  d.peer_maps[p.id] = std::move(*map);
  fill_requests(d, p);
  return true;
}

bool swarm::on_have(peer_state& p, const protocol::have& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end() || it->second->state != "downloading") return true;
  auto& d = *it->second;
  if (m.index >= d.manifest.chunk_count()) {
    p.conn->close("have for chunk " + std::to_string(m.index) + " past the end");
    return false;
  }
  auto [map, inserted] = d.peer_maps.try_emplace(p.id, d.manifest.chunk_count());
  if (map->second.set(m.index)) d.picker->add_availability(m.index);
  fill_requests(d, p);
  return true;
}

void swarm::fill_requests(download& d, peer_state& p) {
  if (d.state != "downloading") return;
  const auto map = d.peer_maps.find(p.id);
  if (map == d.peer_maps.end()) return;
  const auto* item = store_.find(d.id);
  if (!item) return;
  auto& mine = d.in_flight[p.id];
  const auto writing = d.writing_from.find(p.id);
  const std::size_t received = writing == d.writing_from.end() ? 0 : writing->second;
  const auto active = [&] {
    return received +
           static_cast<std::size_t>(std::count_if(
               mine.begin(), mine.end(), [](const auto& r) { return !r.second.cancelled; }));
  };
  // A chunk being verified needs no second copy, not even in the endgame.
  std::vector<bool> asked_here = d.verifying;
  for (const auto& [index, r] : mine)
    asked_here[index] = true;
  if (auto declined = d.declined_by.find(p.id); declined != d.declined_by.end()) {
    const auto now = clock::now();
    std::erase_if(declined->second, [&](const auto& entry) { return entry.second <= now; });
    for (const auto& [index, until] : declined->second)
      asked_here[index] = true;
  }
  while (active() < settings_.requests_per_peer) {
    const auto next = d.picker->pick(map->second, item->have, d.requested, asked_here);
    if (!next) break;
    const auto index = static_cast<std::uint32_t>(*next);
    mine[index] = {clock::now(), false};
    asked_here[index] = true;
    ++d.requested[index];
    p.conn->send(protocol::request{d.id, index});
  }
}

void swarm::fill_all() {
  for (auto& [id, d] : downloads_) {
    for (auto& [pid, p] : peers_)
      fill_requests(*d, *p);
  }
}

void swarm::forget_requests(download& d, const node_id& peer) {
  const auto it = d.in_flight.find(peer);
  if (it == d.in_flight.end()) return;
  for (const auto& [index, r] : it->second) {
    if (!r.cancelled) --d.requested[index];
  }
  d.in_flight.erase(it);
}

void swarm::on_reject(peer_state& p, const protocol::reject& m) {
  const auto it = downloads_.find(m.id);
  if (it == downloads_.end()) return;
  auto& d = *it->second;
  auto& mine = d.in_flight[p.id];
  const auto r = mine.find(m.index);
  if (r == mine.end()) return;
  if (!r->second.cancelled) --d.requested[m.index];
  mine.erase(r);
  // It cannot send that chunk now (it lacks it, or it is busy with chunks
  // nobody else has): ask others for this one for a while, it for others.
  d.declined_by[p.id][m.index] = clock::now() + settings_.reject_backoff;
  fill_all();
}

asio::awaitable<void> swarm::receive_chunk(node_id peer, protocol::chunk m) {
  const auto p_it = peers_.find(peer);
  if (p_it == peers_.end()) co_return;
  auto* p = p_it->second.get();
  const auto d_it = downloads_.find(m.id);
  auto* d = d_it == downloads_.end() ? nullptr : d_it->second.get();
  auto* requests = d ? &d->in_flight[peer] : nullptr;
  const auto request = requests ? requests->find(m.index) : decltype(requests->find(0)){};
  if (d && (!requests || request == requests->end()) && d->late[peer].erase(m.index)) {
    co_return;  // asked for by an attempt that failed: expected, and ignored
  }
  if (!requests || request == requests->end()) {
    ban(*p, "sent chunk " + std::to_string(m.index) + " that was never requested");
    co_return;
  }
  const bool cancelled = request->second.cancelled;
  requests->erase(request);
  const auto* item = store_.find(d->id);
  if (cancelled || !item || d->state != "downloading" || item->have.has(m.index) ||
      m.data.size() != d->manifest.chunk_length(m.index)) {
    if (!cancelled) --d->requested[m.index];
    if (!cancelled && item && m.data.size() != d->manifest.chunk_length(m.index)) {
      ++d->rejected;
      ban(*p, "sent chunk " + std::to_string(m.index) + " with the wrong length");
      co_return;
    }
    fill_requests(*d, *p);
    co_return;  // answered by someone else in the meantime
  }
  // The chunk stays counted as requested while it is verified, so nobody
  // asks for it again in the meantime.

  // Verify, then write: nothing unverified ever reaches the disk.
  ++d->writing;
  ++d->writing_from[peer];
  d->verifying[m.index] = true;
  const auto expected = d->manifest.chunk_hashes[m.index];
  const auto offset = d->manifest.chunk_offset(m.index);
  auto file = item->partial;
  auto verify_and_write = [&]() -> std::string {
    if (protocol::sha256(m.data) != expected) return "bad";
    auto written = store::write_at(*file, offset, m.data);
    return written ? "" : written.error_message();
  };
  const auto outcome = co_await on_pool(pool_, verify_and_write);
  const auto again = downloads_.find(m.id);
  if (again == downloads_.end() || again->second.get() != d) co_return;  // dropped or restarted
  d = again->second.get();
  --d->writing;
  if (--d->writing_from[peer] == 0) d->writing_from.erase(peer);
  --d->requested[m.index];
  d->verifying[m.index] = false;
  p = peers_.contains(peer) ? peers_[peer].get() : nullptr;

  if (outcome == "bad") {
    ++d->rejected;
    log_line(log_level::warn) << "chunk " << m.index << " of " << d->name << " failed verification";
    if (p) ban(*p, "sent chunk " + std::to_string(m.index) + " that does not match its hash");
    fill_all();
    co_return;
  }
  if (!outcome.empty()) co_return fail(*d, outcome);
  item = store_.find(d->id);
  if (!item || item->have.has(m.index)) {  // an endgame twin was verified first
    finish(*d);
    co_return;
  }
  if (auto marked = store_.mark_chunk(d->id, m.index); !marked)
    co_return fail(*d, marked.error_message());

  const std::string from = p ? p->name : short_id(peer);
  ++d->fetched;
  ++d->sources[from];
  d->chunk_sources[m.index] = from;
  d->recent.emplace_back(clock::now(), m.data.size());
  // Endgame: whoever else was asked for this chunk need not send it.
  for (auto& [other, requests] : d->in_flight) {
    if (auto r = requests.find(m.index); r != requests.end() && !r->second.cancelled) {
      r->second.cancelled = true;
      --d->requested[m.index];
      if (auto o = peers_.find(other); o != peers_.end())
        o->second->conn->send(protocol::cancel{d->id, m.index});
    }
  }
  for (auto& [pid, other] : peers_) {
    if (other->subscribed.contains(d->id)) other->conn->send(protocol::have{d->id, m.index});
  }
  finish(*d);
  if (p) fill_requests(*d, *p);
}

void swarm::finish(download& d) {
  const auto* item = store_.find(d.id);
  if (d.state != "downloading" || !item || !item->have.complete() || d.writing > 0) return;
  if (auto done = store_.complete_download(d.id); !done) return fail(d, done.error_message());
  d.state = "complete";
  wake_end_waiters();
  const double seconds = std::chrono::duration<double>(clock::now() - d.started).count();
  log_line(log_level::info) << "complete: " << d.output.string() << " (" << d.manifest.size
                            << " bytes in " << seconds << " s, " << d.fetched
                            << " chunks fetched from " << d.sources.size() << " peers)";
  broadcast_catalog();
}

void swarm::fail(download& d, std::string why) {
  d.state = "failed";
  d.error = std::move(why);
  wake_end_waiters();
  // What was asked for may still come: expected, it is no violation.
  for (auto& [peer, requests] : d.in_flight) {
    const auto p = peers_.find(peer);
    for (auto& [index, r] : requests) {
      d.late[peer].insert(index);
      if (r.cancelled) continue;
      --d.requested[index];
      if (p != peers_.end()) p->second->conn->send(protocol::cancel{d.id, index});
    }
  }
  d.in_flight.clear();
  log_line(log_level::error) << "download of " << (d.name.empty() ? protocol::to_hex(d.id) : d.name)
                             << " failed: " << d.error;
}

// -------------------------------------------------------------- uploads ---

bool swarm::on_request(peer_state& p, const protocol::request& m) {
  const auto* item = store_.find(m.id);
  if (item && m.index >= item->manifest.chunk_count()) {
    p.conn->close("request for chunk " + std::to_string(m.index) + " past the end");
    return false;
  }
  if (!item || !item->have.has(m.index) || p.uploads.size() >= settings_.max_queued_uploads) {
    p.conn->send(protocol::reject{m.id, m.index});
    return true;
  }
  p.uploads.push_back({m, clock::now()});
  if (!p.uploading) {
    p.uploading = true;
    asio::co_spawn(io_, upload_loop(p.id), asio::detached);
  }
  return true;
}

asio::awaitable<void> swarm::upload_loop(node_id peer) {
  for (;;) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) co_return;
    auto& p = *it->second;
    if (p.uploads.empty() || !p.conn->is_open()) {
      p.uploading = false;
      wake_upload_loops();  // it may have been next in turn
      co_return;
    }
    // Under an upload limit the node sends a few chunks at a time (node-wide)
    // and picks the next chunk (and peer) only when one is done: decided
    // late, with every `have` so far in mind. Waiting peers take turns, so a
    // seeder hands its chunks to all of them, not to the first two to ask
    // (who could never pass them all on).
    const bool limited = upload_limit_ && upload_limit_->rate() > 0;
    if (limited && turn_away_stale_uploads(p)) continue;
    if (limited && running_ &&
        (uploads_active_ >= settings_.limited_parallel_uploads || !is_next_in_turn(p))) {
      upload_waiters_.expires_at(clock::time_point::max());
      std::error_code ec;
      co_await upload_waiters_.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;  // the peer may be gone, its queue changed
    }
    const upload_slot slot(*this);
    const auto next = next_upload(p);
    const auto req = next->request;
    p.uploads.erase(next);
    const auto* item = store_.find(req.id);
    if (!item || !item->have.has(req.index)) {
      p.conn->send(protocol::reject{req.id, req.index});
      continue;
    }
    if (should_decline(p, req)) {
      p.declined.emplace(req.id, req.index);
      p.conn->send(protocol::reject{req.id, req.index});
      continue;
    }
    p.declined.erase({req.id, req.index});
    p.upload_turn = ++upload_turns_;  // served: to the back of the line
    auto& counts = upload_counts_[req.id];
    counts.resize(item->manifest.chunk_count());
    ++counts[req.index];
    const auto offset = item->manifest.chunk_offset(req.index);
    const auto length = item->manifest.chunk_length(req.index);
    const bool complete = item->complete;
    const auto path = item->path;
    const auto stamp = item->stamp;
    const auto partial = item->partial;
    // On the pool: open the file (checking it is unchanged) and bring the
    // chunk into the page cache; the socket then sends it from there.
    auto open_chunk = [&]() -> result<std::shared_ptr<file_handle>> {
      auto file = complete ? store::open_shared(path, stamp)
                           : result<std::shared_ptr<file_handle>>{partial};
      if (file) store::prefetch(**file, offset, length);
      return file;
    };
    auto file = co_await on_pool(pool_, open_chunk);
    it = peers_.find(peer);
    if (it == peers_.end()) co_return;
    auto& q = *it->second;
    if (!file) {
      log_line(log_level::warn) << "cannot serve chunk " << req.index << ": "
                                << file.error_message();
      q.conn->send(protocol::reject{req.id, req.index});
      if (complete && store_.find(req.id)) {
        store_.remove(req.id);  // the file changed or vanished: stop offering it
        broadcast_catalog();
      }
      continue;
    }
    if (settings_.corrupt_uploads) {
      send_corrupted(*q.conn, req, **file, offset, length);
    } else {
      q.conn->send_chunk({req.id, req.index, length}, *file, offset);
    }
    // Under an upload limit, commit to the next chunk only once this one is
    // on its way: the choice of what to send stays as late (and as well
    // informed) as possible.
    // The peer may go (and q with it) while we wait: hold its connection.
    const auto conn = q.conn;
    co_await conn->wait_writable(limited ? 0 : settings_.upload_queue_bytes);
  }
}

bool swarm::is_next_in_turn(const peer_state& p) const {
  return std::none_of(peers_.begin(), peers_.end(), [&](const auto& entry) {
    const auto& q = *entry.second;
    return q.upload_turn < p.upload_turn && q.uploading && !q.uploads.empty() && q.conn->is_open();
  });
}

std::size_t swarm::times_uploaded(const protocol::request& r) const {
  const auto it = upload_counts_.find(r.id);
  return it == upload_counts_.end() || r.index >= it->second.size() ? 0 : it->second[r.index];
}

// Chunks we have sent least often go first: a seeder then hands out every
// chunk once before any chunk twice, and the swarm multiplies them.
auto swarm::next_upload(peer_state& p) -> std::deque<queued_upload>::iterator {
  return std::min_element(p.uploads.begin(), p.uploads.end(), [&](const auto& a, const auto& b) {
    return times_uploaded(a.request) < times_uploaded(b.request);
  });
}

void swarm::wake_upload_loops() {
  upload_waiters_.cancel();
}

// Declines (once) to send a chunk already sent to someone while another peer
// waits for a chunk we have sent to nobody: our upload is the scarce
// resource, and the copy we sent can reach this peer through the swarm.
bool swarm::should_decline(const peer_state& p, const protocol::request& r) const {
  if (times_uploaded(r) == 0 || p.declined.contains({r.id, r.index})) return false;
  for (const auto& [id, other] : peers_) {
    if (other.get() == &p) continue;
    for (const auto& queued : other->uploads) {
      if (queued.request.id == r.id && times_uploaded(queued.request) == 0) return true;
    }
  }
  return false;
}

// Under an upload limit a busy node may keep a request waiting for long. One
// for a chunk it has already sent to others is turned away (once) after
// upload_wait_limit: its requester asks those others, and the chunks spread
// as a tree instead of queueing at their first holder. True if any was.
bool swarm::turn_away_stale_uploads(peer_state& p) {
  const auto now = clock::now();
  const auto before = p.uploads.size();
  std::erase_if(p.uploads, [&](const queued_upload& q) {
    const auto key = std::pair{q.request.id, q.request.index};
    if (now - q.since < settings_.upload_wait_limit || times_uploaded(q.request) == 0 ||
        p.declined.contains(key)) {
      return false;
    }
    p.declined.insert(key);
    p.conn->send(protocol::reject{q.request.id, q.request.index});
    return true;
  });
  return p.uploads.size() != before;
}

// ---------------------------------------------------------- maintenance ---

asio::awaitable<void> swarm::maintenance_loop() {
  auto last_file_check = clock::now();
  while (running_) {
    // Timeouts and new requests need a look twice a second while something
    // downloads; otherwise only the shared files do, now and then.
    const bool downloading = std::any_of(downloads_.begin(), downloads_.end(), [](const auto& d) {
      return d.second->state == "manifest" || d.second->state == "downloading";
    });
    tick_.expires_at(downloading ? clock::now() + 500ms
                                 : last_file_check + settings_.file_check_interval);
    std::error_code ec;
    co_await tick_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!running_) break;
    const auto now = clock::now();
    for (auto& [id, d] : downloads_) {
      if (d->state == "manifest") {
        if (d->manifest_from && now - d->manifest_asked > settings_.manifest_timeout) {
          d->manifest_from.reset();
        }
        if (!d->manifest_from) ask_manifest(*d);
        if (!d->manifest_from && now - d->started > settings_.no_holder_timeout) {
          fail(*d, "no peer offered " + protocol::to_hex(d->id) + " within " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                          settings_.no_holder_timeout)
                                          .count()) +
                       " s");
        }
      }
      // A request unanswered for too long goes to someone else. It stays on
      // record as cancelled for a while, so a late answer is no violation.
      for (auto& [peer, requests] : d->in_flight) {
        const auto p = peers_.find(peer);
        for (auto r = requests.begin(); r != requests.end();) {
          auto& [index, state] = *r;
          if (state.cancelled && now - state.sent > 2 * settings_.request_timeout) {
            r = requests.erase(r);
            continue;
          }
          if (!state.cancelled && now - state.sent >= settings_.request_timeout) {
            state.cancelled = true;
            state.sent = now;
            --d->requested[index];
            if (p != peers_.end()) p->second->conn->send(protocol::cancel{d->id, index});
          }
          ++r;
        }
      }
      while (!d->recent.empty() && now - d->recent.front().first > 5s)
        d->recent.pop_front();
    }
    fill_all();
    if (now - last_file_check >= settings_.file_check_interval) {
      last_file_check = now;
      co_await drop_changed_files();
    }
  }
}

// A shared file edited or deleted in place no longer matches its manifest:
// stop offering it rather than serve bytes that every downloader would reject.
asio::awaitable<void> swarm::drop_changed_files() {
  std::vector<std::tuple<content_id, fs::path, file_stamp>> shared;
  for (const auto& [id, item] : store_.items()) {
    if (item.complete) shared.emplace_back(id, item.path, item.stamp);
  }
  auto find_changed = [&] {
    std::vector<content_id> changed;
    for (const auto& [id, path, stamp] : shared) {
      const auto now = store::stamp_of(path);
      if (!now || !(*now == stamp)) changed.push_back(id);
    }
    return changed;
  };
  const auto changed = co_await on_pool(pool_, find_changed);
  for (const auto& id : changed) {
    log_line(log_level::warn) << "no longer sharing " << protocol::to_hex(id).substr(0, 12)
                              << ": its file changed or vanished";
    store_.remove(id);
  }
  if (!changed.empty()) broadcast_catalog();
}

// ------------------------------------------------------------------ API ---

asio::awaitable<result<content_id>> swarm::share(fs::path file) {
  file = fs::absolute(file);
  auto hash = [&file] { return store::hash_file(file); };
  auto hashed = co_await on_pool(pool_, hash);
  if (!hashed) co_return error{hashed.error_message()};
  if (auto added = store_.add_shared(hashed->first, file, hashed->second); !added) {
    co_return error{added.error_message()};
  }
  const auto id = protocol::id_of(hashed->first);
  log_line(log_level::info) << "sharing " << file.string() << " as " << protocol::to_hex(id);
  broadcast_catalog();
  co_return id;
}

std::set<content_id> swarm::matches(const std::string& prefix) const {
  std::set<content_id> found;
  const auto consider = [&](const content_id& id) {
    if (protocol::to_hex(id).starts_with(prefix)) found.insert(id);
  };
  for (const auto& [id, item] : store_.items())
    consider(id);
  for (const auto& [pid, p] : peers_) {
    for (const auto& e : p->catalog)
      consider(e.id);
  }
  return found;
}

std::optional<content_id> swarm::resolve(const std::string& text) const {
  if (auto full = protocol::content_id_from_hex(text)) return *full;
  if (text.size() < 8) return std::nullopt;
  const auto found = matches(text);
  if (found.size() != 1) return std::nullopt;
  return *found.begin();
}

result<content_id> swarm::get(const std::string& text, const fs::path& output,
                              const fs::path& directory) {
  const auto id = resolve(text);
  if (!id) return error{"no known content id starts with " + text + " (or more than one does)"};
  if (const auto* item = store_.find(*id); item && item->complete) {
    if (output.empty() || fs::absolute(output) == item->path) {
      // Already here: keep the record of how it came, if this run fetched it.
      if (downloads_.contains(*id)) return *id;
      auto d = std::make_unique<download>();
      d->id = *id;
      d->name = item->manifest.name;
      d->size = item->manifest.size;
      d->output = item->path;
      d->state = "complete";
      d->manifest = item->manifest;
      downloads_[*id] = std::move(d);
      return *id;
    }
    return error{"this node already has it at " + item->path.string()};
  }
  std::map<node_id, std::set<std::uint32_t>> late;
  if (auto existing = downloads_.find(*id); existing != downloads_.end()) {
    auto& d = *existing->second;
    if (d.state != "failed") return *id;  // already under way: join it
    late = std::move(d.late);             // late answers to the failed attempt
    downloads_.erase(existing);           // try again from the start
  }
  auto d = std::make_unique<download>();
  d->id = *id;
  d->late = std::move(late);
  d->output = output.empty() ? fs::path() : fs::absolute(output);
  d->directory = directory;
  auto& ref = *downloads_.emplace(*id, std::move(d)).first->second;
  ask_manifest(ref);
  tick_.cancel();  // the maintenance loop may be sleeping long: it has work now
  return *id;
}

transfer_info swarm::info_of(const download& d) const {
  transfer_info t;
  t.id = protocol::to_hex(d.id);
  t.name = d.name;
  t.size = d.size;
  t.output = d.output.string();
  t.state = d.state;
  t.error = d.error;
  t.chunks_total = d.manifest.chunk_count();
  const auto* item = store_.find(d.id);
  if (item) {
    t.chunks_done = item->have.count();
    for (std::size_t i = 0; i < item->have.size(); ++i) {
      if (item->have.has(i)) t.bytes_done += d.manifest.chunk_length(i);
    }
  }
  if (d.state == "complete") {
    t.chunks_done = t.chunks_total;
    t.bytes_done = d.size;
  }
  t.chunks_resumed = d.resumed;
  t.chunks_fetched = d.fetched;
  t.chunks_rejected = d.rejected;
  std::uint64_t recent_bytes = 0;
  for (const auto& [when, bytes] : d.recent)
    recent_bytes += bytes;
  if (!d.recent.empty()) {
    const double window =
        std::max(1.0, std::chrono::duration<double>(clock::now() - d.recent.front().first).count());
    t.rate = static_cast<double>(recent_bytes) / window;
  }
  if (t.rate > 0 && d.state == "downloading")
    t.eta_seconds = static_cast<double>(d.size - t.bytes_done) / t.rate;
  for (const auto& [peer, requests] : d.in_flight)
    t.peers += !requests.empty();
  t.sources = d.sources;
  t.chunk_sources = d.chunk_sources;
  t.chunk_map.assign(t.chunks_total, '0');
  for (std::size_t i = 0; i < t.chunk_map.size(); ++i) {
    if (d.state == "complete" || (item && item->have.has(i))) {
      t.chunk_map[i] = '1';
    } else if ((i < d.requested.size() && d.requested[i] > 0) ||
               (i < d.verifying.size() && d.verifying[i])) {
      t.chunk_map[i] = '~';
    }
  }
  return t;
}

std::vector<transfer_info> swarm::transfers() const {
  std::vector<transfer_info> out;
  for (const auto& [id, d] : downloads_)
    out.push_back(info_of(*d));
  return out;
}

std::optional<transfer_info> swarm::transfer(const content_id& id) const {
  const auto it = downloads_.find(id);
  if (it == downloads_.end()) return std::nullopt;
  return info_of(*it->second);
}

std::vector<file_info> swarm::files() const {
  std::map<content_id, file_info> all;
  for (const auto& [id, item] : store_.items()) {
    all[id] = {protocol::to_hex(id),
               item.manifest.name,
               item.manifest.size,
               1,
               item.complete ? "complete" : "partial",
               item.manifest.chunk_count(),
               item.manifest.chunk_size};
  }
  for (const auto& [pid, p] : peers_) {
    for (const auto& e : p->catalog) {
      auto [it, inserted] =
          all.try_emplace(e.id, file_info{protocol::to_hex(e.id), e.name, e.size, 0, ""});
      ++it->second.holders;
    }
  }
  std::vector<file_info> out;
  for (auto& [id, f] : all)
    out.push_back(std::move(f));
  return out;
}

std::optional<local_file> swarm::complete_file(const content_id& id) const {
  const auto* item = store_.find(id);
  if (!item || !item->complete) return std::nullopt;
  return local_file{item->path, item->manifest.name, item->manifest.size, item->stamp};
}

}  // namespace peerlab::peer

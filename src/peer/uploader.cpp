#include "peer/uploader.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "peer/log.hpp"

namespace peerlab::peer {

using asio::use_awaitable;
using clock = std::chrono::steady_clock;

uploader::uploader(asio::io_context& io, store& storage, disk_io& disk,
                   const swarm_settings& settings)
    : io_(io),
      store_(storage),
      disk_(disk),
      settings_(settings),
      scheduler_({settings.max_queued_uploads, settings.upload_wait_limit}),
      wake_(io) {}

void uploader::start() {
  running_ = true;
  asio::co_spawn(io_, dispatch_loop(), asio::detached);
}

void uploader::stop() {
  running_ = false;
  wake();
}

void uploader::add_peer(peer_key key, std::shared_ptr<connection> conn, upload_sink* sink) {
  peers_[key].conn = std::move(conn);
  peers_[key].sink = sink;
}

void uploader::reject(peer& p, const protocol::request& r) {
  if (p.sink) return p.sink->reject(r);
  p.conn->send(protocol::reject{r.id, r.index});
}

void uploader::remove_peer(peer_key key) {
  peers_.erase(key);
  scheduler_.remove(key);
  wake();  // it may have been next in turn
}

bool uploader::on_request(peer_key key, const protocol::request& r) {
  const auto p = peers_.find(key);
  if (p == peers_.end()) return true;
  const auto* item = store_.find(r.id);
  if (item && r.index >= item->manifest.chunk_count()) {
    p->second.conn->close("request for chunk " + std::to_string(r.index) + " past the end");
    return false;
  }
  if (!item || !item->have.has(r.index) || !scheduler_.enqueue(key, r, clock::now())) {
    reject(p->second, r);
    return true;
  }
  wake();
  return true;
}

void uploader::on_cancel(peer_key key, const protocol::request& r) {
  if (scheduler_.cancel(key, r)) return wake();  // it may no longer be next in turn
  const auto p = peers_.find(key);
  if (p != peers_.end() && p->second.preparing.contains({r.id, r.index}))
    p->second.cancelled.emplace(r.id, r.index);
}

bool uploader::ready(peer_key key) {
  const auto it = peers_.find(key);
  if (it == peers_.end()) return false;
  auto& p = it->second;
  if (p.sending > 0 || !p.conn->is_open()) return false;
  if (p.conn->can_send_now()) return true;
  // Its socket is full: wake us when it drains, and meanwhile serve others.
  if (!p.watching) {
    p.watching = true;
    asio::co_spawn(io_, watch(key, p.conn), asio::detached);
  }
  return false;
}

asio::awaitable<void> uploader::watch(peer_key key, std::shared_ptr<connection> conn) {
  co_await conn->wait_sendable();
  if (const auto it = peers_.find(key); it != peers_.end()) it->second.watching = false;
  wake();
}

asio::awaitable<void> uploader::dispatch_loop() {
  while (running_) {
    // A request for a chunk others already have is turned away once it has
    // waited too long: its requester asks them instead, and the chunk
    // spreads as a tree rather than queueing at one holder (on a slow uplink,
    // limited or not, this is what keeps a seeder from sending it twice).
    for (const auto& [key, r] : scheduler_.take_stale(clock::now())) {
      if (const auto p = peers_.find(key); p != peers_.end()) reject(p->second, r);
    }
    // Under a limit a few chunks go out at a time and the next is picked only
    // when one is done: decided late, with every `have` so far in mind.
    const auto slots = limited() ? settings_.limited_parallel_uploads : settings_.parallel_uploads;
    while (active_ < slots) {
      const auto pick = scheduler_.next([this](peer_key k) { return ready(k); });
      if (!pick) break;
      act(*pick);
    }
    const auto stale = scheduler_.next_stale();
    wake_.expires_at(stale ? *stale : clock::time_point::max());
    std::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

void uploader::act(const upload_scheduler::pick& pick) {
  auto& p = peers_.at(pick.peer);
  const auto& r = pick.request;
  const auto* item = store_.find(r.id);
  if (pick.what == upload_scheduler::action::decline || !item || !item->have.has(r.index)) {
    reject(p, r);
    return;
  }
  scheduler_.served(pick.peer, r);
  ++active_;
  ++p.sending;
  p.preparing.emplace(r.id, r.index);
  asio::co_spawn(io_, send_chunk(pick.peer, r), asio::detached);
}

asio::awaitable<void> uploader::send_chunk(peer_key key, protocol::request r) {
  const auto* item = store_.find(r.id);
  if (!item) {  // stopped sharing since it was picked
    scheduler_.sent(r, false);
    --active_;
    if (const auto it = peers_.find(key); it != peers_.end()) {
      --it->second.sending;
      it->second.preparing.erase({r.id, r.index});
      reject(it->second, r);
    }
    wake();
    co_return;
  }
  const auto offset = item->manifest.chunk_offset(r.index);
  const auto length = item->manifest.chunk_length(r.index);
  const bool complete = item->complete;
  // A multi-file torrent's piece: in parts of its files (BitTorrent only).
  std::optional<result<std::vector<file_part>>> parts;
  if (item->tree) {
    auto opening = disk_.open_parts(item->tree, offset, length);
    parts = co_await std::move(opening);
  }
  // Made in a statement of its own: GCC 12 may destroy the temporaries of a
  // co_await expression twice.
  result<std::shared_ptr<file_handle>> file = error{"a multi-file torrent's piece"};
  if (!parts) {
    auto opening = disk_.open_chunk(item->path, item->stamp, complete ? nullptr : item->partial,
                                    offset, length);
    file = co_await std::move(opening);
  } else if (!*parts) {
    file = error{parts->error_message()};
  }
  std::shared_ptr<connection> conn;
  bool queued = false;  // the chunk went into the connection's queue
  if (const auto it = peers_.find(key); it != peers_.end()) {
    auto& p = it->second;
    const auto which = std::pair{r.id, r.index};
    p.preparing.erase(which);
    const bool cancelled = p.cancelled.erase(which) > 0;
    conn = p.conn;
    if (parts && *parts && !cancelled && p.sink) {
      queued = true;
      p.sink->send(r, **parts);
    } else if (parts && *parts) {
      if (!cancelled) reject(p, r);  // a torrent's: never over peerlab framing
    } else if (!file) {
      log_line(log_level::warn) << "cannot serve chunk " << r.index << ": " << file.error_message();
      reject(p, r);
      if (complete && !parts && file_changed_) file_changed_(r.id);
    } else if (!cancelled && p.sink) {
      queued = true;
      p.sink->send(r, {file_part{*file, offset, length}});
    } else if (!cancelled && settings_.corrupt_uploads) {
      queued = true;
      // The test-only fault switch: the chunk is read and one byte flipped.
      auto read = [&] { return store::read_at(**file, offset, length); };
      auto data = co_await disk_.run(disk_io::lane::uploads, read);
      if (data && !data->empty()) (*data)[data->size() / 2] ^= 0x5a;
      if (data) conn->send(protocol::chunk{r.id, r.index, std::move(*data)});
    } else if (!cancelled) {
      queued = true;
      conn->send_chunk({r.id, r.index, length}, *file, offset);
    }
  }
  // The slot is ours until the chunk is in the kernel (and under a limit,
  // paid for): then the kernel holds at most notsent_lowat_bytes of it. A
  // peer that stops reading would hold it forever: after a while without
  // progress the slot goes back, while the chunk waits (and the peer gets no
  // other until it drains, or the write timeout closes it).
  bool holding = true;
  if (conn && !co_await conn->wait_writable(0, settings_.upload_stall_limit)) {
    holding = false;
    --active_;
    scheduler_.sent(r, false);  // it reaches nobody for now
    wake();
    co_await conn->wait_writable(0);
  }
  const bool left = conn && queued && conn->is_open();
  if (holding) {
    --active_;
    scheduler_.sent(r, left);
  } else if (left) {
    scheduler_.delivered(r);
  }
  if (const auto it = peers_.find(key); it != peers_.end()) --it->second.sending;
  wake();
}

}  // namespace peerlab::peer

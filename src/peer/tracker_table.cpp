#include "peer/tracker_table.hpp"

#include <algorithm>

namespace peerlab::peer {

namespace bt = protocol::bt;

tracker_table::tracker_table(tracker_settings settings, std::uint32_t seed)
    : settings_(settings),
      rates_(settings.requests_per_second_per_address, settings.request_burst_per_address),
      rng_(seed) {}

protocol::endpoint tracker_table::address_key(const protocol::endpoint& e) {
  protocol::endpoint key = e;
  key.port = 0;
  // One IPv6 subscriber gets a whole /64: counting its addresses one by one
  // would give a single machine 2^64 allowances.
  if (key.family == protocol::ip_family::v6) std::fill(key.ip.begin() + 8, key.ip.end(), 0);
  return key;
}

bool tracker_table::allow_request(const protocol::endpoint& from, clock::time_point now) {
  return rates_.take(address_key(from), now);
}

bool tracker_table::seeds_locally(const info_hash& hash) const {
  return local_torrents_ && local_torrents_(hash);
}

void tracker_table::erase_entry(torrent& t, std::size_t index) {
  const auto key = address_key(t.peers[index].address);
  if (const auto it = entries_by_address_.find(key);
      it != entries_by_address_.end() && --it->second == 0) {
    entries_by_address_.erase(it);
  }
  t.peers[index] = t.peers.back();  // order does not matter: answers are sampled
  t.peers.pop_back();
  --peers_;
}

void tracker_table::expire_in(torrent& t, clock::time_point now) {
  for (std::size_t i = t.peers.size(); i-- > 0;) {
    if (now - t.peers[i].seen > settings_.entry_lifetime) erase_entry(t, i);
  }
}

void tracker_table::expire(clock::time_point now) {
  last_sweep_ = now;
  for (auto it = torrents_.begin(); it != torrents_.end();) {
    expire_in(it->second, now);
    it = it->second.peers.empty() ? torrents_.erase(it) : std::next(it);
  }
}

tracker_stats tracker_table::stats() const {
  tracker_stats s;
  s.torrents = torrents_.size();
  s.peers = peers_;
  for (const auto& [hash, t] : torrents_) {
    s.seeders += static_cast<std::size_t>(
        std::count_if(t.peers.begin(), t.peers.end(), [](const entry& e) { return e.seeder; }));
  }
  return s;
}

const char* tracker_table::refusal_for_new(const protocol::endpoint& peer,
                                           bool torrent_exists) const {
  if (const auto it = entries_by_address_.find(address_key(peer));
      it != entries_by_address_.end() && it->second >= settings_.max_entries_per_address) {
    return "not registered: too many entries from your address";
  }
  if (peers_ >= settings_.max_peers) return "not registered: the tracker is full";
  if (!torrent_exists && torrents_.size() >= settings_.max_torrents) {
    return "not registered: the tracker tracks too many torrents";
  }
  return nullptr;
}

std::vector<bt::tracker_peer> tracker_table::pick_peers(const torrent& t, std::size_t want,
                                                        const protocol::endpoint& asker,
                                                        bool asker_seeds) {
  // Peers of the asker's own family first (an IPv4 client may have no IPv6
  // route), then the other; never the asker, never a seeder to a seeder, and
  // never an address that means nothing where the asker is (its loopback
  // is not ours).
  std::vector<std::size_t> same, other;
  for (std::size_t i = 0; i < t.peers.size(); ++i) {
    const auto& e = t.peers[i];
    if (e.address == asker || (asker_seeds && e.seeder)) continue;
    if (!protocol::is_meaningful_to(e.address, asker)) continue;
    (e.address.family == asker.family ? same : other).push_back(i);
  }
  std::vector<bt::tracker_peer> out;
  // A partial Fisher-Yates shuffle: `want` distinct entries, each equally likely.
  const auto take_from = [&](std::vector<std::size_t>& pool) {
    for (std::size_t n = 0; n < pool.size() && out.size() < want; ++n) {
      std::uniform_int_distribution<std::size_t> pick(n, pool.size() - 1);
      std::swap(pool[n], pool[pick(rng_)]);
      const auto& e = t.peers[pool[n]];
      out.push_back({e.address, e.id});
    }
  };
  take_from(same);
  take_from(other);
  return out;
}

bt::announce_response tracker_table::announce(const bt::announce_request& r,
                                              const protocol::endpoint& peer,
                                              const std::optional<protocol::endpoint>& self,
                                              clock::time_point now) {
  if (now - last_sweep_ >= settings_.min_interval) expire(now);
  bt::announce_response answer;
  answer.interval = static_cast<std::uint32_t>(settings_.interval.count());
  answer.min_interval = static_cast<std::uint32_t>(settings_.min_interval.count());

  auto it = torrents_.find(r.info_hash);
  if (it != torrents_.end()) expire_in(it->second, now);

  // The client's entry: the same peer id from the same address, or the same
  // address and port under a new peer id (a restarted client). The address
  // is part of the key, so nobody can replace or stop someone else's entry.
  std::optional<std::size_t> mine;
  if (it != torrents_.end()) {
    auto& peers = it->second.peers;
    for (std::size_t i = peers.size(); i-- > 0;) {
      const auto& a = peers[i].address;
      const bool same_ip = a.family == peer.family && a.ip == peer.ip;
      const bool same_client = (same_ip && peers[i].id == r.peer) || a == peer;
      if (!same_client) continue;
      if (mine) erase_entry(it->second, *mine);  // a duplicate: keep one
      mine = i;
    }
  }

  const bool seeder = (r.left && *r.left == 0) || r.event == bt::announce_event::completed;
  if (r.event == bt::announce_event::stopped) {
    if (mine) erase_entry(it->second, *mine);
    mine.reset();
  } else if (mine) {
    auto& e = it->second.peers[*mine];
    if (r.event == bt::announce_event::completed && !e.seeder) ++it->second.downloaded;
    e.address = peer;
    e.id = r.peer;
    e.seeder = seeder;
    e.seen = now;
  } else if (const char* refusal = refusal_for_new(peer, it != torrents_.end())) {
    answer.warning_message = refusal;
  } else if (it == torrents_.end() || it->second.peers.size() < settings_.max_peers_per_torrent) {
    if (it == torrents_.end()) it = torrents_.emplace(r.info_hash, torrent{}).first;
    if (r.event == bt::announce_event::completed) ++it->second.downloaded;
    it->second.peers.push_back({peer, r.peer, seeder, now});
    mine = it->second.peers.size() - 1;
    ++entries_by_address_[address_key(peer)];
    ++peers_;
  } else {
    answer.warning_message = "not registered: this torrent has too many peers";
  }

  const bool local = self && seeds_locally(r.info_hash);
  const auto counts = it == torrents_.end() ? tracker_counts{} : counts_of(it->second);
  answer.complete = counts.complete + (local ? 1 : 0);
  answer.incomplete = counts.incomplete;
  if (r.event != bt::announce_event::stopped) {
    const auto want =
        std::min<std::size_t>(r.numwant.value_or(settings_.default_numwant), settings_.max_numwant);
    if (local && want > 0 && *self != peer) answer.peers.push_back({*self, std::nullopt});
    if (it != torrents_.end() && answer.peers.size() < want) {
      auto more = pick_peers(it->second, want - answer.peers.size(), peer, seeder);
      answer.peers.insert(answer.peers.end(), more.begin(), more.end());
    }
  }
  if (it != torrents_.end() && it->second.peers.empty()) torrents_.erase(it);
  return answer;
}

std::optional<tracker_counts> tracker_table::scrape(const info_hash& hash, clock::time_point now) {
  const bool local = seeds_locally(hash);
  const auto it = torrents_.find(hash);
  if (it == torrents_.end()) {
    if (!local) return std::nullopt;
    return tracker_counts{1, 0, 0};
  }
  expire_in(it->second, now);
  auto c = counts_of(it->second);
  c.complete += local ? 1 : 0;
  return c;
}

tracker_counts tracker_table::counts_of(const torrent& t) {
  tracker_counts c;
  for (const auto& e : t.peers)
    ++(e.seeder ? c.complete : c.incomplete);
  c.downloaded = t.downloaded;
  return c;
}

}  // namespace peerlab::peer

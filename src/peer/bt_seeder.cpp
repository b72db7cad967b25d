#include "peer/bt_seeder.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <random>

#include "peer/bt_session.hpp"
#include "peer/log.hpp"
#include "protocol/hex.hpp"

namespace peerlab::peer {

namespace bt = protocol::bt;

bt_seeder::bt_seeder(asio::io_context& io, store& storage, uploader& up, bt_settings settings)
    : io_(io),
      store_(storage),
      uploader_(up),
      settings_(settings),
      choker_(settings.unchoke_slots),
      rotate_timer_(io) {
  // Azureus-style peer id: client and version, then random characters.
  const std::string_view prefix = "-PL0001-";
  std::copy(prefix.begin(), prefix.end(), own_id_.begin());
  std::random_device random;
  const std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (std::size_t i = prefix.size(); i < own_id_.size(); ++i)
    own_id_[i] = static_cast<std::uint8_t>(alphabet[random() % alphabet.size()]);
}

bt_seeder::~bt_seeder() = default;

void bt_seeder::start() {
  running_ = true;
  asio::co_spawn(io_, rotate_loop(), asio::detached);
}

void bt_seeder::stop() {
  running_ = false;
  rotate_timer_.cancel();
  for (auto [key, s] : std::map(sessions_))
    s->conn()->close("node stopping");
}

asio::awaitable<void> bt_seeder::serve(std::shared_ptr<connection> c) {
  if (!running_ || sessions_.size() >= settings_.max_peers) {
    c->close("too many BitTorrent peers");
    co_return;
  }
  const auto key = c->serial();
  bt_session session(*this, c);
  sessions_[key] = &session;
  auto running = session.run();
  co_await std::move(running);
  c->close("BitTorrent session ended");
  sessions_.erase(key);
  uploader_.remove_peer(key);
  apply(choker_.drop_interest(key));
}

void bt_seeder::apply(const bt_choker::changes& changes) {
  for (const auto key : changes.choke)
    if (const auto it = sessions_.find(key); it != sessions_.end()) it->second->set_choked(true);
  for (const auto key : changes.unchoke)
    if (const auto it = sessions_.find(key); it != sessions_.end()) it->second->set_choked(false);
}

asio::awaitable<void> bt_seeder::rotate_loop() {
  while (running_) {
    rotate_timer_.expires_after(settings_.rotate_every);
    std::error_code ec;
    co_await rotate_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!running_) break;
    apply(choker_.rotate());
  }
}

std::vector<bt_peer_info> bt_seeder::peers() const {
  std::vector<bt_peer_info> out;
  for (const auto& [key, s] : sessions_) {
    if (!s->ready()) continue;
    out.push_back({protocol::to_hex(s->peer_id()), s->client(), s->info()->name,
                   std::string(bt::to_string(s->format())), s->conn()});
  }
  return out;
}

}  // namespace peerlab::peer

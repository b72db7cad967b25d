// The tracker client against trackers on loopback: peerlab's own HTTP
// tracker, and small fake HTTP and UDP trackers written here that answer,
// refuse, stay silent or misbehave on purpose.

#include "peer/tracker_client.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "harness.hpp"
#include "http/server.hpp"
#include "http/site.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::testing {
namespace {

namespace bt = protocol::bt;
using asio::redirect_error;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;

const asio::ip::address loopback = asio::ip::make_address("127.0.0.1");

protocol::endpoint ep(const char* text) {
  return *protocol::parse_endpoint(text);
}

std::string http_ok(const bt::announce_response& r) {
  const auto body = bt::encode_announce_response(r, true);
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body.begin(), body.end());
}

bt::announce_response with_peers(std::vector<protocol::endpoint> peers) {
  bt::announce_response r;
  for (const auto& p : peers)
    r.peers.push_back({p, std::nullopt});
  return r;
}

// Answers each GET with answer(target); an empty answer: never answers.
class fake_http_tracker : public std::enable_shared_from_this<fake_http_tracker> {
 public:
  using answer_fn = std::function<std::string(const std::string& target)>;
  fake_http_tracker(asio::io_context& io, answer_fn answer, asio::ip::address at = loopback)
      : acceptor_(io, {at, 0}), answer_(std::move(answer)) {}
  void start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }
  void stop() {
    std::error_code ignored;
    acceptor_.close(ignored);
    for (auto& s : held_)
      s->close(ignored);
  }
  std::string url(const std::string& path = "/announce") const {
    const auto at = acceptor_.local_endpoint();
    const auto host =
        at.address().is_v6() ? "[" + at.address().to_string() + "]" : at.address().to_string();
    return "http://" + host + ":" + std::to_string(at.port()) + path;
  }
  std::vector<std::string> targets;  // every request's target, in order

 private:
  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (int i = 0; i < 100; ++i) {
      auto socket = std::make_shared<asio::ip::tcp::socket>(acceptor_.get_executor());
      std::error_code ec;
      co_await acceptor_.async_accept(*socket, redirect_error(use_awaitable, ec));
      if (ec) co_return;
      held_.push_back(socket);
      asio::co_spawn(acceptor_.get_executor(), serve(socket), asio::detached);
    }
  }
  asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
    auto self = shared_from_this();
    std::string request;
    std::error_code ec;
    co_await asio::async_read_until(*socket, asio::dynamic_buffer(request, 16384), "\r\n\r\n",
                                    redirect_error(use_awaitable, ec));
    if (ec || !request.starts_with("GET ")) co_return;
    const auto target = request.substr(4, request.find(' ', 4) - 4);
    targets.push_back(target);
    const auto reply = answer_(target);
    if (reply.empty()) co_return;  // held open, silent
    co_await asio::async_write(*socket, asio::buffer(reply), redirect_error(use_awaitable, ec));
    socket->close(ec);
  }

  asio::ip::tcp::acceptor acceptor_;
  answer_fn answer_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> held_;
};

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// BEP 15 by hand: connect gives a fixed connection id, announce the peers.
class fake_udp_tracker : public std::enable_shared_from_this<fake_udp_tracker> {
 public:
  struct behaviour {
    int drop_connects = 0;                 // the first ones are not answered
    bool wrong_transaction_first = false;  // an answer for another question first
    bool spoof_first = false;              // an answer from another address first
    std::string error;                     // answer announces with this error
    std::vector<protocol::endpoint> peers;
  };
  static constexpr std::uint64_t connection_id = 0x1122334455667788;

  fake_udp_tracker(asio::io_context& io, behaviour b, asio::ip::address at = loopback)
      : socket_(io, {at, 0}), other_(io, {at, 0}), behaviour_(std::move(b)) {}
  void start() { asio::co_spawn(socket_.get_executor(), loop(), asio::detached); }
  void stop() {
    std::error_code ignored;
    socket_.close(ignored);
    other_.close(ignored);
  }
  std::string url() const {
    const auto at = socket_.local_endpoint();
    const auto host =
        at.address().is_v6() ? "[" + at.address().to_string() + "]" : at.address().to_string();
    return "udp://" + host + ":" + std::to_string(at.port()) + "/announce";
  }
  int connects = 0;
  std::vector<std::uint32_t> events;  // of each announce
  std::vector<std::uint16_t> ports;

 private:
  asio::awaitable<void> loop() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> in(2048);
    for (int i = 0; i < 1000; ++i) {
      asio::ip::udp::endpoint from;
      std::error_code ec;
      const auto n = co_await socket_.async_receive_from(asio::buffer(in), from,
                                                         redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !socket_.is_open()) co_return;
      if (ec || n < 16) continue;
      const auto action = get_u32(&in[8]);
      const auto transaction = get_u32(&in[12]);
      std::vector<std::uint8_t> out;
      if (n == 16 && action == 0) {
        if (++connects <= behaviour_.drop_connects) continue;
        put_u32(out, 0);
        put_u32(out, transaction);
        put_u32(out, static_cast<std::uint32_t>(connection_id >> 32));
        put_u32(out, static_cast<std::uint32_t>(connection_id));
      } else if (n == 98 && action == 1) {
        const std::uint64_t id = std::uint64_t{get_u32(&in[0])} << 32 | get_u32(&in[4]);
        if (id != connection_id) continue;
        events.push_back(get_u32(&in[80]));
        ports.push_back(static_cast<std::uint16_t>(in[96] << 8 | in[97]));
        if (!behaviour_.error.empty()) {
          put_u32(out, 3);
          put_u32(out, transaction);
          out.insert(out.end(), behaviour_.error.begin(), behaviour_.error.end());
        } else {
          const auto answer = [&](std::uint32_t tx, const std::vector<protocol::endpoint>& peers) {
            std::vector<std::uint8_t> a;
            put_u32(a, 1);
            put_u32(a, tx);
            put_u32(a, 1800);  // interval
            put_u32(a, 3);     // leechers
            put_u32(a, 2);     // seeders
            for (const auto& p : peers) {
              // Peers of the family the tracker was reached over (BEP 15).
              a.insert(a.end(), p.ip.begin(),
                       p.ip.begin() + (p.family == protocol::ip_family::v4 ? 4 : 16));
              a.push_back(static_cast<std::uint8_t>(p.port >> 8));
              a.push_back(static_cast<std::uint8_t>(p.port));
            }
            return a;
          };
          if (behaviour_.wrong_transaction_first) {
            const auto stray = answer(transaction + 1, {ep("10.9.9.9:9999")});
            co_await socket_.async_send_to(asio::buffer(stray), from,
                                           redirect_error(use_awaitable, ec));
          }
          if (behaviour_.spoof_first) {
            const auto spoof = answer(transaction, {ep("10.8.8.8:8888")});
            co_await other_.async_send_to(asio::buffer(spoof), from,
                                          redirect_error(use_awaitable, ec));
          }
          out = answer(transaction, behaviour_.peers);
        }
      } else {
        continue;
      }
      co_await socket_.async_send_to(asio::buffer(out), from, redirect_error(use_awaitable, ec));
    }
  }

  asio::ip::udp::socket socket_;
  asio::ip::udp::socket other_;  // "another address": same IP, another port
  behaviour behaviour_;
};

class TrackerClient : public ::testing::Test {
 protected:
  TrackerClient() {
    settings_.request_timeout = 2s;
    settings_.udp_first_timeout = 100ms;
    settings_.min_backoff = 100ms;
    settings_.max_backoff = 400ms;
    settings_.min_interval = 200ms;
    settings_.stop_timeout = 300ms;
    info_hash_.fill(0xab);
    id_.fill('P');
  }
  void TearDown() override {
    h_.run([&] {
      clients_.clear();
      if (web_) web_->stop();
      if (http_) http_->stop();
      if (udp_) udp_->stop();
      http_.reset();
      udp_.reset();
      return 0;
    });
  }

  // A client, made and started on the network thread; the peers it hands
  // over are appended to peers_.
  peer::tracker_client& start_client(std::vector<std::string> urls, std::uint16_t port = 6881,
                                     std::optional<std::uint64_t> left = 1000) {
    return *h_.run([&] {
      auto c = std::make_unique<peer::tracker_client>(
          h_.io(), std::move(urls), info_hash_, id_, port,
          [left] {
            return peer::announce_numbers{10, 20, left};
          },
          [this](std::vector<protocol::endpoint> peers) {
            ++answers_;
            peers_.insert(peers_.end(), peers.begin(), peers.end());
            if (after_peers_) after_peers_();
          },
          settings_);
      c->start();
      clients_.push_back(std::move(c));
      return clients_.back().get();
    });
  }
  std::vector<peer::tracker_status> status(peer::tracker_client& c) {
    return h_.run([&] { return c.status(); });
  }
  bool wait_for_state(peer::tracker_client& c, const std::string& state, std::size_t index = 0) {
    return h_.wait_until([&] {
      const auto s = c.status();
      return s.size() > index && s[index].state == state;
    });
  }
  std::shared_ptr<fake_http_tracker> http_tracker(fake_http_tracker::answer_fn answer) {
    return h_.run([&] {
      http_ = std::make_shared<fake_http_tracker>(h_.io(), std::move(answer));
      http_->start();
      return http_;
    });
  }
  std::shared_ptr<fake_udp_tracker> udp_tracker(fake_udp_tracker::behaviour b) {
    return h_.run([&] {
      udp_ = std::make_shared<fake_udp_tracker>(h_.io(), std::move(b));
      udp_->start();
      return udp_;
    });
  }

  // peerlab's own tracker, when a test starts one. Declared before the
  // harness so that it outlives the network thread, whose last handlers
  // still refer to it.
  std::unique_ptr<http::api_context> context_;
  std::unique_ptr<http::server> web_;
  harness h_;
  peer::tracker_client_settings settings_;
  bt::sha1_digest info_hash_{};
  bt::peer_id id_{};
  std::shared_ptr<fake_http_tracker> http_;
  std::shared_ptr<fake_udp_tracker> udp_;
  std::vector<std::unique_ptr<peer::tracker_client>> clients_;
  std::vector<protocol::endpoint> peers_;  // network thread only
  int answers_ = 0;
  std::function<void()> after_peers_;  // network thread only
};

TEST_F(TrackerClient, HttpQueryCarriesTheAnnounceAndEvents) {
  auto tracker = http_tracker([](const std::string&) {
    // Duplicates, our own address and a peer worth keeping.
    return http_ok(with_peers(
        {ep("127.0.0.9:7000"), ep("127.0.0.9:7000"), ep("127.0.0.1:6881"), ep("10.1.2.3:51413")}));
  });
  auto& c = start_client({tracker->url("/announce?passkey=s3cret")});
  ASSERT_TRUE(wait_for_state(c, "ok"));
  const auto first = h_.run([&] { return tracker->targets.at(0); });
  EXPECT_TRUE(first.starts_with("/announce?passkey=s3cret&info_hash=")) << first;
  const std::string hash(20, static_cast<char>(0xab));
  EXPECT_NE(first.find("info_hash=" + protocol::percent_encode(hash)), std::string::npos);
  EXPECT_NE(first.find("peer_id=PPPPPPPPPPPPPPPPPPPP"), std::string::npos);
  for (const char* part : {"&port=6881", "&uploaded=10", "&downloaded=20", "&left=1000",
                           "&event=started", "&compact=1", "&numwant=50"}) {
    EXPECT_NE(first.find(part), std::string::npos) << part << " in " << first;
  }
  const auto peers = h_.run([&] { return peers_; });
  EXPECT_EQ(peers, (std::vector{ep("127.0.0.9:7000"), ep("10.1.2.3:51413")}));
  EXPECT_EQ(status(c).at(0).peers, 2u);

  h_.run([&] { c.completed(); });
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() >= 2; }));
  EXPECT_NE(h_.run([&] { return tracker->targets[1]; }).find("&event=completed"),
            std::string::npos);
  h_.run([&] { c.stop(); });
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() >= 3; }));
  EXPECT_NE(h_.run([&] { return tracker->targets[2]; }).find("&event=stopped"), std::string::npos);
}

TEST_F(TrackerClient, PeersComeBackFromPeerlabsOwnTracker) {
  auto& node = h_.add_node(h_.settings("tracker"));
  const auto address = h_.run([&] {
    context_ = std::make_unique<http::api_context>(http::api_context{node, {}, "secret"});
    web_ = std::make_unique<http::server>(
        h_.io(), http::server_settings{},
        [this](http::request r) { return http::handle_request(*context_, std::move(r)); });
    EXPECT_TRUE(web_->start(ep("127.0.0.1:0")).ok());
    context_->http = web_->local_endpoint();
    return web_->local_endpoint();
  });
  const auto url = "http://" + protocol::to_string(address) + "/announce";
  auto& first = start_client({url}, 6001);
  ASSERT_TRUE(wait_for_state(first, "ok")) << status(first).at(0).error;
  id_.fill('Q');
  auto& second = start_client({url}, 6002);
  ASSERT_TRUE(h_.wait_until([&] {
    return std::find(peers_.begin(), peers_.end(), ep("127.0.0.1:6001")) != peers_.end();
  })) << status(second).at(0).error;
  EXPECT_EQ(status(second).at(0).state, "ok");
}

TEST_F(TrackerClient, FailureReasonMeansFailedAndBackoff) {
  auto tracker = http_tracker([](const std::string&) {
    bt::announce_response r;
    r.failure_reason = "torrent not registered";
    return http_ok(r);
  });
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "failed"));
  const auto s = status(c).at(0);
  EXPECT_EQ(s.error, "tracker: torrent not registered");
  EXPECT_EQ(h_.run([&] { return answers_; }), 0);
  // Tried again after the backoff, with `started` still.
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() >= 3; }));
  EXPECT_NE(h_.run([&] { return tracker->targets[2]; }).find("event=started"), std::string::npos);
}

TEST_F(TrackerClient, SilentTrackerTimesOut) {
  settings_.request_timeout = 200ms;
  auto tracker = http_tracker([](const std::string&) { return std::string(); });
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "failed"));
  EXPECT_EQ(status(c).at(0).error, "no answer within 200 ms");
}

TEST_F(TrackerClient, HugeAnswerIsRefused) {
  auto tracker = http_tracker([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\nd8:interval");
  });
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "failed"));
  EXPECT_NE(status(c).at(0).error.find("larger than the limit"), std::string::npos)
      << status(c).at(0).error;
}

TEST_F(TrackerClient, HttpStatusesAndChunkedReplies) {
  auto tracker = http_tracker([](const std::string& target) -> std::string {
    if (target.starts_with("/missing")) {
      return "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
    }
    if (target.starts_with("/refused")) {
      bt::announce_response r;
      r.failure_reason = "invalid passkey";
      const auto body = bt::encode_announce_response(r, true);
      return "HTTP/1.0 403 Forbidden\r\n\r\n" + std::string(body.begin(), body.end());
    }
    const auto body = bt::encode_announce_response(with_peers({ep("127.0.0.9:7000")}), true);
    const auto half = body.size() / 2;
    char sizes[2][24];
    std::snprintf(sizes[0], sizeof sizes[0], "%zx", half);
    std::snprintf(sizes[1], sizeof sizes[1], "%zx", body.size() - half);
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(sizes[0]) +
           "\r\n" + std::string(body.begin(), body.begin() + half) + "\r\n" + sizes[1] + "\r\n" +
           std::string(body.begin() + half, body.end()) + "\r\n0\r\n\r\n";
  });
  auto& c =
      start_client({tracker->url("/missing"), tracker->url("/refused"), tracker->url("/chunked")});
  ASSERT_TRUE(wait_for_state(c, "failed", 0));
  ASSERT_TRUE(wait_for_state(c, "failed", 1));
  ASSERT_TRUE(wait_for_state(c, "ok", 2)) << status(c).at(2).error;
  const auto s = status(c);
  EXPECT_EQ(s[0].error, "HTTP 404 Not Found");
  EXPECT_EQ(s[1].error, "tracker: invalid passkey");
  EXPECT_EQ(h_.run([&] { return peers_; }), std::vector{ep("127.0.0.9:7000")});
}

TEST_F(TrackerClient, AnnounceNowWaitsForTheMinInterval) {
  auto tracker = http_tracker([](const std::string&) {
    auto r = with_peers({ep("127.0.0.9:7000")});
    r.interval = 3600;
    return http_ok(r);
  });
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "ok"));
  const auto next = status(c).at(0).next_announce;
  EXPECT_GT(next, clock::now() + 3000s);  // the tracker's interval
  h_.run([&] { c.announce_now(); });
  const auto asked = status(c).at(0).next_announce;
  EXPECT_LT(asked, clock::now() + settings_.min_interval + 50ms);
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() >= 2; }));
  EXPECT_EQ(h_.run([&] { return tracker->targets[1]; }).find("event="), std::string::npos);
}

TEST_F(TrackerClient, UnsupportedSchemesFailAndAreNeverRetried) {
  auto& c = start_client({"https://tracker.example/announce", "wss://tracker.example/announce",
                          "https://tracker.example/announce"});
  const auto s = status(c);
  ASSERT_EQ(s.size(), 2u);  // the repeated URL once
  EXPECT_EQ(s[0].state, "failed");
  EXPECT_EQ(s[0].error, "https trackers are not supported");
  EXPECT_EQ(s[0].next_announce, clock::time_point::max());
  EXPECT_EQ(s[1].error, "unsupported tracker scheme wss://");
}

TEST_F(TrackerClient, DestroyedWhileAnnouncing) {
  auto tracker = http_tracker([](const std::string&) { return std::string(); });
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "announcing"));
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() == 1; }));
  h_.run([&] {
    clients_.clear();
    return 0;
  });
  // The `stopped` announce still goes out, after the client is gone.
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() == 2; }));
  EXPECT_NE(h_.run([&] { return tracker->targets[1]; }).find("event=stopped"), std::string::npos);
}

TEST_F(TrackerClient, UdpPeersComeBack) {
  fake_udp_tracker::behaviour b;
  b.wrong_transaction_first = true;
  b.spoof_first = true;
  b.peers = {ep("127.0.0.9:7000"), ep("10.1.2.3:51413")};
  auto tracker = udp_tracker(b);
  auto& c = start_client({tracker->url()}, 6881, 0);
  ASSERT_TRUE(wait_for_state(c, "ok")) << status(c).at(0).error;
  const auto s = status(c).at(0);
  EXPECT_EQ(s.seeders, 2u);
  EXPECT_EQ(s.leechers, 3u);
  // Neither the other transaction's peer nor the spoofed one.
  EXPECT_EQ(h_.run([&] { return peers_; }),
            (std::vector{ep("127.0.0.9:7000"), ep("10.1.2.3:51413")}));
  // (On a slow machine a datagram may be sent twice: each counts.)
  EXPECT_EQ(h_.run([&] { return tracker->events.at(0); }), 2u);  // started
  EXPECT_EQ(h_.run([&] { return tracker->ports.at(0); }), 6881);
  const auto connects = h_.run([&] { return tracker->connects; });
  const auto announces = h_.run([&] { return tracker->events.size(); });
  h_.run([&] { c.stop(); });
  ASSERT_TRUE(h_.wait_until([&] { return tracker->events.size() > announces; }));
  EXPECT_EQ(h_.run([&] { return tracker->events.back(); }), 3u);  // stopped
  // The connection id was kept: no second connect.
  EXPECT_EQ(h_.run([&] { return tracker->connects; }), connects);
}

TEST_F(TrackerClient, UdpConnectIsSentAgainWhenUnanswered) {
  fake_udp_tracker::behaviour b;
  b.drop_connects = 1;
  b.peers = {ep("127.0.0.9:7000")};
  auto tracker = udp_tracker(b);
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "ok")) << status(c).at(0).error;
  EXPECT_GE(h_.run([&] { return tracker->connects; }), 2);
  EXPECT_EQ(h_.run([&] { return peers_; }), std::vector{ep("127.0.0.9:7000")});
}

TEST_F(TrackerClient, UdpErrorActionFailsWithItsMessage) {
  fake_udp_tracker::behaviour b;
  b.error = "unregistered torrent";
  auto tracker = udp_tracker(b);
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "failed"));
  EXPECT_EQ(status(c).at(0).error, "tracker: unregistered torrent");
}

TEST_F(TrackerClient, UdpTrackerThatNeverAnswers) {
  settings_.udp_attempts = 2;
  settings_.min_backoff = settings_.max_backoff = 10s;  // no second try during the test
  fake_udp_tracker::behaviour b;
  b.drop_connects = 100;
  auto tracker = udp_tracker(b);
  auto& c = start_client({tracker->url()});
  ASSERT_TRUE(wait_for_state(c, "failed"));
  EXPECT_EQ(status(c).at(0).error, "no answer from the udp tracker after 2 tries");
  EXPECT_EQ(h_.run([&] { return tracker->connects; }), 2);
}

}  // namespace
}  // namespace peerlab::testing

namespace peerlab::testing {
namespace {

TEST_F(TrackerClient, DestroyedFromItsOwnPeersHandler) {
  auto tracker =
      http_tracker([](const std::string&) { return http_ok(with_peers({ep("127.0.0.9:7000")})); });
  after_peers_ = [this] { clients_.clear(); };
  start_client({tracker->url()});
  ASSERT_TRUE(h_.wait_until([&] { return clients_.empty(); }));
  // Its `stopped` still goes out.
  ASSERT_TRUE(h_.wait_until([&] { return tracker->targets.size() == 2; }));
  EXPECT_NE(h_.run([&] { return tracker->targets[1]; }).find("event=stopped"), std::string::npos);
  EXPECT_EQ(h_.run([&] { return answers_; }), 1);
}

TEST_F(TrackerClient, Ipv6Trackers) {
  const auto v6 = asio::ip::make_address("::1");
  const bool available = h_.run([&] {
    std::error_code ec;
    asio::ip::udp::socket probe(h_.io());
    probe.open(asio::ip::udp::v6(), ec);
    if (!ec) probe.bind({v6, 0}, ec);
    return !ec;
  });
  if (!available) GTEST_SKIP() << "no IPv6 loopback here";
  const auto peer = ep("[2001:db8::7]:7000");
  const auto urls = h_.run([&] {
    http_ = std::make_shared<fake_http_tracker>(
        h_.io(), [&](const std::string&) { return http_ok(with_peers({peer})); }, v6);
    http_->start();
    fake_udp_tracker::behaviour b;
    b.peers = {peer};
    udp_ = std::make_shared<fake_udp_tracker>(h_.io(), b, v6);
    udp_->start();
    return std::vector{http_->url(), udp_->url()};
  });
  auto& c = start_client(urls);
  ASSERT_TRUE(wait_for_state(c, "ok", 0)) << status(c).at(0).error;
  ASSERT_TRUE(wait_for_state(c, "ok", 1)) << status(c).at(1).error;
  EXPECT_EQ(h_.run([&] { return peers_; }), (std::vector{peer, peer}));  // once from each
}

}  // namespace
}  // namespace peerlab::testing

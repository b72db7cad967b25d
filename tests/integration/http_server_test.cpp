// The embedded HTTP server and its JSON API, over real loopback sockets.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "raw_client.hpp"

namespace peerlab::testing {
namespace {

// Sends raw request bytes and returns everything the server answers until it
// closes the connection (or the deadline passes).
std::string round_trip(const protocol::endpoint& to, const std::string& request) {
  raw_client c(to);
  c.send(std::span(reinterpret_cast<const std::uint8_t*>(request.data()), request.size()));
  return c.read_all(3s);
}

class HttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = &h_.add_node(h_.settings("web"));
    http::server_settings s;
    s.request_timeout = 500ms;
    s.max_connections = 8;
    h_.run([&] {
      context_ = std::make_unique<http::api_context>(http::api_context{*node_, {}, "secret"});
      server_ = std::make_unique<http::server>(h_.io(), s, [this](http::request r) {
        return http::handle_api(*context_, std::move(r));
      });
      const bool ok = server_->start(*protocol::parse_endpoint("127.0.0.1:0")).ok();
      context_->http = server_->local_endpoint();
      return ok;
    });
    web_ = server_->local_endpoint();
  }
  void TearDown() override {
    h_.run([&] {
      server_->stop();
      return 0;
    });
  }

  // Declared before the harness so that it outlives the network thread,
  // whose last handlers still refer to it.
  std::unique_ptr<http::api_context> context_;
  std::unique_ptr<http::server> server_;
  harness h_;
  peer::node* node_ = nullptr;
  protocol::endpoint web_;
};

std::string body_of(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

TEST_F(HttpServer, StatusIsJsonWithDateAndContentLength) {
  const auto r =
      round_trip(web_, "GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(r.find("\r\nContent-Type: application/json"), std::string::npos);
  const auto body = body_of(r);
  EXPECT_NE(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  const auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["id"], hex_id(*node_));
  EXPECT_EQ(j["name"], "web");
  EXPECT_EQ(j["listen"], protocol::to_string(node_->listen_endpoint()));
  EXPECT_EQ(j["http"], protocol::to_string(web_));
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  const auto r = round_trip(web_,
                            "GET /api/peers HTTP/1.1\r\nHost: x\r\n\r\n"
                            "HEAD /api/status HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /api/peers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t answers = 0;
  for (auto at = r.find("HTTP/1.1 200"); at != std::string::npos;
       at = r.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 3u) << r;
  EXPECT_TRUE(r.ends_with("[]\n")) << "the HEAD answer must carry no body";
}

TEST_F(HttpServer, ErrorsHaveTheRightStatus) {
  EXPECT_TRUE(round_trip(web_, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 404"));
  const auto post = round_trip(
      web_,
      "POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_TRUE(round_trip(web_, "BLAH\r\n\r\n").starts_with("HTTP/1.1 400"));
  const auto big = round_trip(web_, "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(big.starts_with("HTTP/1.1 431")) << big.substr(0, 40);
}

TEST_F(HttpServer, ActionsWithoutTheTokenAre401AndChangeNothing) {
  const std::string body = R"({"path": "/etc/hostname"})";
  const auto post = [&](const std::string& auth) {
    return round_trip(web_, "POST /api/share HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth +
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                                body);
  };
  EXPECT_TRUE(post("").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(post("Authorization: Bearer wrong\r\n").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(post("Authorization: Bearer secretX\r\n").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(h_.run([&] { return node_->transfers().files().empty(); }))
      << "shared without the token";
}

TEST_F(HttpServer, SlowRequestIsCutOffWith408) {
  raw_client c(web_);
  const std::string partial = "GET /api/status HTTP/1.1\r\nHost: x\r\n";
  c.send(std::span(reinterpret_cast<const std::uint8_t*>(partial.data()), partial.size()));
  const auto r = c.read_all(3s);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408")) << r;
}

TEST_F(HttpServer, ConnectionsBeyondTheCapGet503AndTheServerRecovers) {
  std::vector<std::unique_ptr<raw_client>> held;
  for (int i = 0; i < 8; ++i)
    held.push_back(std::make_unique<raw_client>(web_));
  // They queue before the next one, so the server has accepted all eight first.
  const auto refused = round_trip(web_, "GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
  held.clear();
  bool served = false;
  for (int attempt = 0; attempt < 100 && !served; ++attempt) {
    served = round_trip(web_, "GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                 .starts_with("HTTP/1.1 200");
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace peerlab::testing

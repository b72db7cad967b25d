// The embedded HTTP server and its JSON API, over real loopback sockets.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "files.hpp"
#include "harness.hpp"
#include "http/server.hpp"
#include "http/site.hpp"
#include "protocol/hex.hpp"
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
        return http::handle_request(*context_, std::move(r));
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

std::string head_of(const std::string& response) {
  return response.substr(0, response.find("\r\n\r\n") + 2);
}

// One request on its own connection, with extra header lines ("Name: value\r\n").
std::string fetch(const protocol::endpoint& to, const std::string& method,
                  const std::string& target, const std::string& headers = "") {
  return round_trip(to, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                            "Connection: close\r\n\r\n");
}

// A node sharing one file over HTTP.
class HttpFiles : public HttpServer {
 protected:
  void SetUp() override {
    HttpServer::SetUp();
    data_ = random_bytes(1'000'000, 7);
    id_ = protocol::to_hex(share(h_, *node_, write_file(h_.temp_dir("f"), "report 1.pdf", data_)));
  }
  std::string get(const std::string& headers = "") {
    return fetch(web_, "GET", "/files/" + id_, headers);
  }
  std::string bytes(std::size_t first, std::size_t count) const {
    return {data_.begin() + static_cast<std::ptrdiff_t>(first),
            data_.begin() + static_cast<std::ptrdiff_t>(first + count)};
  }
  std::vector<char> data_;
  std::string id_;
};

TEST_F(HttpServer, StatusIsJsonWithDateAndContentLength) {
  const auto r =
      round_trip(web_, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
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
  const auto r =
      round_trip(web_,
                 "GET /api/peers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 "HEAD /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 "GET /api/peers HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::size_t answers = 0;
  for (auto at = r.find("HTTP/1.1 200"); at != std::string::npos;
       at = r.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 3u) << r;
  EXPECT_TRUE(r.ends_with("[]\n")) << "the HEAD answer must carry no body";
}

TEST_F(HttpServer, ErrorsHaveTheRightStatus) {
  EXPECT_TRUE(round_trip(web_, "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 404"));
  const auto post = round_trip(web_,
                               "POST /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                               "0\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_TRUE(round_trip(web_, "BLAH\r\n\r\n").starts_with("HTTP/1.1 400"));
  const auto big = round_trip(web_, "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(big.starts_with("HTTP/1.1 431")) << big.substr(0, 40);
}

TEST_F(HttpServer, ActionsWithoutTheTokenAre401AndChangeNothing) {
  const std::string body = R"({"path": "/etc/hostname"})";
  const auto post = [&](const std::string& auth) {
    return round_trip(web_, "POST /api/share HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                                auth + "Content-Length: " + std::to_string(body.size()) +
                                "\r\n\r\n" + body);
  };
  EXPECT_TRUE(post("").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(post("Authorization: Bearer wrong\r\n").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(post("Authorization: Bearer secretX\r\n").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(h_.run([&] { return node_->transfers().files().empty(); }))
      << "shared without the token";
}

TEST_F(HttpServer, SlowRequestIsCutOffWith408) {
  raw_client c(web_);
  const std::string partial = "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  c.send(std::span(reinterpret_cast<const std::uint8_t*>(partial.data()), partial.size()));
  const auto r = c.read_all(3s);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408")) << r;
}

TEST_F(HttpServer, AtTheCapANewClientTakesTheSocketOfTheLongestIdleOne) {
  // Eight connections (the cap) that never send a request: slowloris, or
  // idle keep-alive clients. They queue before the next one, so the server
  // has accepted all eight first.
  std::vector<std::unique_ptr<raw_client>> held;
  for (int i = 0; i < 8; ++i)
    held.push_back(std::make_unique<raw_client>(web_));
  for (int i = 0; i < 3; ++i) {
    const auto r = fetch(web_, "GET", "/api/status");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << "a newcomer is served, not refused: " << r;
  }
  // The oldest idle ones made room, the newest are kept.
  EXPECT_TRUE(held.front()->closed_within(3s));
  EXPECT_FALSE(held.back()->closed_within(100ms));
}

TEST_F(HttpServer, DashboardIsOneSelfContainedPage) {
  const auto r = fetch(web_, "GET", "/");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << head_of(r);
  EXPECT_NE(r.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Security-Policy: default-src 'none'"), std::string::npos);
  EXPECT_NE(r.find("frame-ancestors 'none'"), std::string::npos) << "no clickjacking";
  EXPECT_NE(body_of(r).find("</html>"), std::string::npos);
  EXPECT_TRUE(fetch(web_, "DELETE", "/").starts_with("HTTP/1.1 405"));
}

TEST_F(HttpServer, ForeignHostIsRefusedWhateverThePath) {
  // DNS rebinding: a page on evil.example re-pointed at 127.0.0.1.
  for (const std::string path : {"/", "/api/status", "/files/0123456789abcdef"}) {
    const auto r = round_trip(web_, "GET " + path +
                                        " HTTP/1.1\r\nHost: evil.example:8080\r\n"
                                        "Connection: close\r\n\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 403")) << path << ": " << head_of(r);
  }
  for (const std::string host : {"127.0.0.1", "localhost:80", "[::1]:8080", "127.0.0.7"}) {
    const auto r = round_trip(
        web_, "GET /api/status HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << host << ": " << head_of(r);
  }
  EXPECT_TRUE(round_trip(web_, "GET /api/status HTTP/1.1\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 400"))
      << "HTTP/1.1 requires Host";
}

TEST_F(HttpServer, ActionsFromAForeignOriginAre403EvenWithTheToken) {
  const auto file = write_file(h_.temp_dir("o"), "o.txt", random_bytes(100, 1));
  const std::string body = R"({"path": ")" + file.string() + R"("})";
  const auto post = [&](const std::string& origin) {
    return round_trip(web_, "POST /api/share HTTP/1.1\r\nHost: 127.0.0.1\r\n" + origin +
                                "Authorization: Bearer secret\r\nConnection: close\r\n"
                                "Content-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  EXPECT_TRUE(post("Origin: http://evil.example\r\n").starts_with("HTTP/1.1 403"));
  EXPECT_TRUE(post("Origin: null\r\n").starts_with("HTTP/1.1 403"));
  EXPECT_TRUE(h_.run([&] { return node_->transfers().files().empty(); })) << "side effect";
  const auto same_site = post("Origin: http://127.0.0.1\r\n");
  EXPECT_TRUE(same_site.starts_with("HTTP/1.1 200")) << same_site;
}

TEST_F(HttpFiles, WholeFileWithLengthTypeNameAndEtag) {
  const auto r = get();
  ASSERT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << head_of(r);
  const auto head = head_of(r);
  EXPECT_NE(head.find("Content-Length: 1000000\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: application/pdf\r\n"), std::string::npos);
  EXPECT_NE(head.find("Accept-Ranges: bytes\r\n"), std::string::npos);
  EXPECT_NE(head.find("ETag: \"" + id_ + "\"\r\n"), std::string::npos);
  EXPECT_NE(head.find("filename=\"report 1.pdf\"; filename*=UTF-8''report%201.pdf"),
            std::string::npos);
  // A shared file never runs as a page of this origin.
  EXPECT_NE(head.find("Content-Disposition: attachment;"), std::string::npos);
  EXPECT_NE(head.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Security-Policy: sandbox\r\n"), std::string::npos);
  EXPECT_EQ(body_of(r), bytes(0, data_.size()));

  const auto by_name = fetch(web_, "GET", "/files/" + id_ + "/report%201.pdf");
  EXPECT_EQ(body_of(by_name), bytes(0, data_.size()));
  const auto head_only = fetch(web_, "HEAD", "/files/" + id_);
  EXPECT_NE(head_only.find("Content-Length: 1000000\r\n"), std::string::npos);
  EXPECT_EQ(body_of(head_only), "");
  EXPECT_TRUE(fetch(web_, "PUT", "/files/" + id_).starts_with("HTTP/1.1 405"));
}

TEST_F(HttpServer, ASharedWebPageIsADownloadNotAPage) {
  for (const std::string name : {"page.html", "image.svg", "script.js"}) {
    const auto id = protocol::to_hex(
        share(h_, *node_, write_file(h_.temp_dir("w"), name, {'<', 's', 'c', 'r', 'i', 'p', 't'})));
    const auto head = head_of(fetch(web_, "GET", "/files/" + id));
    EXPECT_NE(head.find("Content-Type: application/octet-stream\r\n"), std::string::npos) << name;
    EXPECT_NE(head.find("Content-Security-Policy: sandbox\r\n"), std::string::npos) << name;
  }
}

TEST_F(HttpFiles, RangesAnswerAsRfc9110Says) {
  auto r = get("Range: bytes=0-0\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 206")) << head_of(r);
  EXPECT_NE(r.find("Content-Range: bytes 0-0/1000000\r\n"), std::string::npos);
  EXPECT_EQ(body_of(r), bytes(0, 1));

  r = get("Range: bytes=-1\r\n");
  EXPECT_NE(r.find("Content-Range: bytes 999999-999999/1000000\r\n"), std::string::npos);
  EXPECT_EQ(body_of(r), bytes(999'999, 1));

  r = get("Range: bytes=500000-\r\n");
  EXPECT_EQ(body_of(r), bytes(500'000, 500'000));

  r = get("Range: bytes=1000000-\r\n");  // starts past the end
  EXPECT_TRUE(r.starts_with("HTTP/1.1 416")) << head_of(r);
  EXPECT_NE(r.find("Content-Range: bytes */1000000\r\n"), std::string::npos);

  for (const std::string ignored : {"bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-0,5-9"}) {
    r = get("Range: " + ignored + "\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << ignored << ": " << head_of(r);
    EXPECT_EQ(body_of(r).size(), data_.size()) << ignored;
  }
}

TEST_F(HttpFiles, ConditionalRequestsUseTheContentId) {
  const auto etag = "\"" + id_ + "\"";
  auto r = get("If-None-Match: \"other\", " + etag + "\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 304")) << head_of(r);
  EXPECT_EQ(body_of(r), "");
  r = get("Range: bytes=10-19\r\nIf-Range: " + etag + "\r\n");
  EXPECT_EQ(body_of(r), bytes(10, 10));
  r = get("Range: bytes=10-19\r\nIf-Range: \"changed\"\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << "a stale If-Range gets the whole file";
}

TEST_F(HttpFiles, NothingButSharedFilesIsReachable) {
  for (const std::string& target : std::vector<std::string>{
           "/files/../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd",
           "/files/..%2F..%2Fetc%2Fpasswd", "/files/" + id_.substr(0, 7),
           "/files/" + std::string(64, '0'), "/files/" + id_ + "/other",
           "/files/" + id_ + "/..%2F..%2Fetc%2Fpasswd", "/files/", "/files//etc/passwd"}) {
    const auto r = fetch(web_, "GET", target);
    EXPECT_TRUE(r.starts_with("HTTP/1.1 404")) << target << ": " << head_of(r);
    EXPECT_EQ(r.find("root:"), std::string::npos) << target;
  }
  // A unique prefix of 8 or more works, as on the command line.
  EXPECT_TRUE(fetch(web_, "GET", "/files/" + id_.substr(0, 8)).starts_with("HTTP/1.1 200"));
}

TEST_F(HttpFiles, AClientHangingUpMidFileLeavesTheServerServing) {
  for (int i = 0; i < 3; ++i) {
    raw_client c(web_);
    const std::string request = "GET /files/" + id_ + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    c.send(std::span(reinterpret_cast<const std::uint8_t*>(request.data()), request.size()));
  }  // closed unread: the server's next sendfile fails with EPIPE or ECONNRESET
  EXPECT_EQ(body_of(get()).size(), data_.size());
}

}  // namespace
}  // namespace peerlab::testing

// Tracker announce URLs taken apart, and an HTTP reply read as a tracker
// client reads it: the pure halves of peer/tracker_client.

#include "protocol/tracker_url.hpp"

#include <gtest/gtest.h>

#include "protocol/http_reply.hpp"

namespace peerlab::protocol {
namespace {

using bt::parse_tracker_url;
using bt::tracker_scheme;

TEST(TrackerUrl, HttpWithDefaultPortAndPath) {
  const auto u = parse_tracker_url("http://Tracker.Example.org/announce");
  ASSERT_TRUE(u.ok()) << u.error_message();
  EXPECT_EQ(u->scheme, tracker_scheme::http);
  EXPECT_EQ(u->host, "tracker.example.org");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/announce");
  EXPECT_EQ(bt::host_header(*u), "tracker.example.org");
}

TEST(TrackerUrl, KeepsTheQueryAndAppendsWithAmpersand) {
  const auto u = parse_tracker_url("http://10.0.0.5:6969/a/announce.php?passkey=abc#frag");
  ASSERT_TRUE(u.ok()) << u.error_message();
  EXPECT_EQ(u->host, "10.0.0.5");
  EXPECT_EQ(u->port, 6969);
  EXPECT_EQ(u->target, "/a/announce.php?passkey=abc");
  EXPECT_EQ(bt::announce_target(*u, "info_hash=x"), "/a/announce.php?passkey=abc&info_hash=x");
  EXPECT_EQ(bt::host_header(*u), "10.0.0.5:6969");
  const auto plain = parse_tracker_url("http://10.0.0.5:6969/announce");
  EXPECT_EQ(bt::announce_target(*plain, "info_hash=x"), "/announce?info_hash=x");
  const auto empty = parse_tracker_url("http://10.0.0.5:6969");
  EXPECT_EQ(bt::announce_target(*empty, "q"), "/?q");
  const auto bare_query = parse_tracker_url("http://10.0.0.5?k=1");
  EXPECT_EQ(bt::announce_target(*bare_query, "q"), "/?k=1&q");
}

TEST(TrackerUrl, Ipv6LiteralsInBrackets) {
  const auto u = parse_tracker_url("udp://[2001:DB8::1]:6969/announce");
  ASSERT_TRUE(u.ok()) << u.error_message();
  EXPECT_EQ(u->scheme, tracker_scheme::udp);
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, 6969);
  const auto h = parse_tracker_url("http://[::1]/announce");
  ASSERT_TRUE(h.ok()) << h.error_message();
  EXPECT_EQ(h->port, 80);
  EXPECT_EQ(bt::host_header(*h), "[::1]");
}

TEST(TrackerUrl, HttpsParsesSoTheCallerCanRefuseIt) {
  const auto u = parse_tracker_url("HTTPS://tracker.example/announce");
  ASSERT_TRUE(u.ok()) << u.error_message();
  EXPECT_EQ(u->scheme, tracker_scheme::https);
  EXPECT_EQ(u->port, 443);
}

TEST(TrackerUrl, RejectsWhatCannotBeAnnouncedTo) {
  for (const char* bad : {
           "wss://tracker.example/announce",  // WebTorrent
           "tracker.example:6969",
           "udp://tracker.example/announce",  // no port
           "http://user:pw@tracker.example/announce",
           "http:///announce",
           "http://tracker.example:0/announce",
           "http://tracker.example:70000/announce",
           "http://bad_host!/announce",
           "http://[::1/announce",
           "http://tracker.example/a b",
           "http://tracker.example/a\r\nX-Injected: 1",
       }) {
    EXPECT_FALSE(parse_tracker_url(bad).ok()) << bad;
  }
  EXPECT_EQ(parse_tracker_url("wss://x/announce").error_message(),
            "unsupported tracker scheme wss://");
  EXPECT_FALSE(parse_tracker_url("http://t.example/" + std::string(3000, 'a')).ok());
}

using reader = http_reply_reader;

TEST(HttpReply, ContentLengthFramesTheBodyAcrossPieces) {
  reader r(1024);
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, ignored";
  reader::state s = reader::state::need_more;
  for (const char c : reply)
    s = r.feed(std::string_view(&c, 1));
  EXPECT_EQ(s, reader::state::done);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.reason(), "OK");
  EXPECT_EQ(r.body(), "hello");
}

TEST(HttpReply, BodyWithoutLengthEndsWhenTheServerCloses) {
  reader r(1024);
  EXPECT_EQ(r.feed("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nd8:intervali"), reader::state::need_more);
  EXPECT_EQ(r.feed("60ee"), reader::state::need_more);
  EXPECT_EQ(r.close(), reader::state::done);
  EXPECT_EQ(r.body(), "d8:intervali60ee");
}

TEST(HttpReply, ChunkedBody) {
  reader r(1024);
  const std::string reply =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: y\r\n\r\n";
  // Every split point gives the same answer.
  for (std::size_t cut = 0; cut <= reply.size(); ++cut) {
    reader split(1024);
    split.feed(std::string_view(reply).substr(0, cut));
    EXPECT_EQ(split.feed(std::string_view(reply).substr(cut)), reader::state::done) << cut;
    EXPECT_EQ(split.body(), "hello, world!!!") << cut;
  }
  EXPECT_EQ(r.feed(reply), reader::state::done);
}

TEST(HttpReply, RefusesABodyAboveTheLimitBeforeReadingIt) {
  reader announced(100);
  EXPECT_EQ(announced.feed("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n"),
            reader::state::failed);
  EXPECT_NE(announced.error().find("larger than the limit of 100"), std::string::npos);

  reader streamed(100);
  EXPECT_EQ(streamed.feed("HTTP/1.1 200 OK\r\n\r\n" + std::string(60, 'x')),
            reader::state::need_more);
  EXPECT_EQ(streamed.feed(std::string(60, 'x')), reader::state::failed);

  reader chunked(100);
  EXPECT_EQ(chunked.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n"),
            reader::state::failed);
}

TEST(HttpReply, RefusesAnEndlessHead) {
  reader r(100);
  reader::state s = r.feed("HTTP/1.1 200 OK\r\n");
  for (int i = 0; i < 1000 && s == reader::state::need_more; ++i)
    s = r.feed("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
  EXPECT_EQ(s, reader::state::failed);
}

TEST(HttpReply, MalformedReplies) {
  for (const char* bad : {
           "HTP/1.1 200 OK\r\n\r\n",
           "HTTP/1.1 2x0 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
           "HTTP/1.1 100 Continue\r\n\r\n",
       }) {
    reader r(1024);
    EXPECT_EQ(r.feed(bad), reader::state::failed) << bad;
    EXPECT_FALSE(r.error().empty()) << bad;
  }
}

TEST(HttpReply, ClosedEarly) {
  reader nothing(100);
  EXPECT_EQ(nothing.close(), reader::state::failed);
  EXPECT_EQ(nothing.error(), "the server closed the connection without a reply");
  reader short_body(100);
  short_body.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(short_body.close(), reader::state::failed);
  reader no_body(100);
  EXPECT_EQ(no_body.feed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            reader::state::done);
  EXPECT_EQ(no_body.status(), 404);
  EXPECT_EQ(no_body.reason(), "Not Found");
}

}  // namespace
}  // namespace peerlab::protocol

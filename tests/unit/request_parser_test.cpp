// The HTTP request parser: pure, incremental, with limits.

#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <random>

namespace peerlab::http {
namespace {

using state = request_parser::state;

// Feeds everything at once; returns the parser for inspection.
request_parser parse(std::string_view text, parser_limits limits = {}) {
  request_parser p(limits);
  p.feed(text);
  return p;
}

TEST(RequestParser, ParsesRequestLineHeadersAndBody) {
  auto p = parse(
      "POST /api/share?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Thing:  v  \r\n\r\nhello");
  ASSERT_EQ(p.current(), state::complete);
  const auto r = p.take();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/share?x=1");
  EXPECT_EQ(r.path(), "/api/share");
  EXPECT_EQ(r.body, "hello");
  ASSERT_NE(r.header("x-THING"), nullptr);
  EXPECT_EQ(*r.header("x-thing"), "v");
  EXPECT_TRUE(r.keep_alive());
}

TEST(RequestParser, SameResultWhenBytesArriveOneAtATime) {
  const std::string text = "GET /api/peers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  request_parser p;
  for (char c : text) {
    ASSERT_EQ(p.current(), state::need_more);
    EXPECT_EQ(p.feed(std::string_view(&c, 1)), 1u);
  }
  ASSERT_EQ(p.current(), state::complete);
  const auto r = p.take();
  EXPECT_EQ(r.path(), "/api/peers");
  EXPECT_FALSE(r.keep_alive());
}

TEST(RequestParser, LeavesPipelinedBytesForTheNextRequest) {
  const std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  request_parser p;
  const auto used = p.feed(two);
  ASSERT_EQ(p.current(), state::complete);
  EXPECT_EQ(p.take().target, "/a");
  EXPECT_EQ(p.feed(std::string_view(two).substr(used)), two.size() - used);
  ASSERT_EQ(p.current(), state::complete);
  EXPECT_EQ(p.take().target, "/b");
}

TEST(RequestParser, FeedHeadStopsBeforeTheBodySoTheHeadCanBeScreened) {
  const std::string text = "POST /api/share HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  request_parser p;
  const auto used = p.feed_head(text);
  EXPECT_EQ(used, text.size() - 5);
  ASSERT_TRUE(p.head_complete());
  EXPECT_EQ(p.current(), state::need_more);
  EXPECT_EQ(p.body_expected(), 5u);
  EXPECT_EQ(p.head().header("authorization"), nullptr);
  EXPECT_TRUE(p.head().body.empty());
  EXPECT_EQ(p.feed_head(std::string_view(text).substr(used)), 0u);  // no body byte taken
  EXPECT_EQ(p.feed(std::string_view(text).substr(used)), 5u);
  ASSERT_EQ(p.current(), state::complete);
  EXPECT_EQ(p.take().body, "hello");
}

TEST(RequestParser, AHeadWithoutABodyIsCompleteAfterFeedHead) {
  request_parser p;
  p.feed_head("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p.current(), state::complete);
}

TEST(RequestParser, Http10ClosesUnlessKeepAliveIsAsked) {
  auto a = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(a.current(), state::complete);
  EXPECT_FALSE(a.take().keep_alive());
  auto b = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(b.current(), state::complete);
  EXPECT_TRUE(b.take().keep_alive());
}

struct bad_case {
  const char* text;
  int status;
};

class RequestParserRejects : public ::testing::TestWithParam<bad_case> {};

TEST_P(RequestParserRejects, WithTheRightStatus) {
  auto p = parse(GetParam().text);
  ASSERT_EQ(p.current(), state::error) << GetParam().text;
  EXPECT_EQ(p.error_status(), GetParam().status) << p.error_reason();
}

INSTANTIATE_TEST_SUITE_P(
    BadRequests, RequestParserRejects,
    ::testing::Values(
        bad_case{"GET\r\n\r\n", 400}, bad_case{"GET /\r\n\r\n", 400},
        bad_case{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        bad_case{"GET / FTP/1.1\r\nHost: x\r\n\r\n", 400},
        bad_case{"GET noslash HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        bad_case{"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        bad_case{"GET / HTTP/1.1\r\n\r\n", 400},  // no Host
        bad_case{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        bad_case{"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        bad_case{"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
        bad_case{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                 400},
        bad_case{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
        bad_case{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},
        bad_case{
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            400},
        bad_case{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        bad_case{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413}));

TEST(RequestParser, HeadLargerThanTheLimitIs431BeforeBufferingMore) {
  parser_limits limits;
  limits.max_head_bytes = 1024;
  request_parser p(limits);
  const std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(100000, 'a');
  const auto used = p.feed(huge);
  EXPECT_LE(used, 1024u) << "the parser kept more than its limit";
  ASSERT_EQ(p.current(), state::error);
  EXPECT_EQ(p.error_status(), 431);
}

TEST(RequestParser, MoreHeadersThanTheLimitIs431) {
  std::string text = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 101; ++i)
    text += "H" + std::to_string(i) + ": v\r\n";
  auto p = parse(text + "\r\n");
  ASSERT_EQ(p.current(), state::error);
  EXPECT_EQ(p.error_status(), 431);
}

TEST(RequestParser, RandomBytesNeverCrashAndNeverExceedTheLimits) {
  std::mt19937 rng(42);
  const std::string valid = "POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  for (int round = 0; round < 20000; ++round) {
    std::string input = valid;
    const int edits = static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e)
      input[rng() % input.size()] = static_cast<char>(rng() % 256);
    if (round % 2) input.resize(rng() % (input.size() + 1));
    request_parser p;
    std::size_t offset = 0;
    while (offset < input.size() && p.current() == state::need_more) {
      const auto piece = std::min<std::size_t>(1 + rng() % 7, input.size() - offset);
      const auto used = p.feed(std::string_view(input).substr(offset, piece));
      ASSERT_LE(used, piece);
      offset += used;
      if (used < piece) break;
    }
    if (p.current() == state::complete) {
      EXPECT_LE(p.take().body.size(), 1024u * 1024u);
    }
  }
}

}  // namespace
}  // namespace peerlab::http

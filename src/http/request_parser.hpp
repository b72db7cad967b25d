#pragma once
// Incremental HTTP/1.1 request parser: knows nothing about sockets. Feed it the
// bytes as they arrive; it answers need-more, complete or error (with the
// status code to reply with). Limits are checked before bytes are kept.

#include <cstddef>
#include <string>
#include <string_view>

#include "http/request.hpp"

namespace peerlab::http {

struct parser_limits {
  std::size_t max_head_bytes = 8 * 1024;  // request line + headers
  std::size_t max_headers = 100;
  std::size_t max_body_bytes = 1024 * 1024;
};

class request_parser {
 public:
  enum class state { need_more, complete, error };

  explicit request_parser(parser_limits limits = {}) : limits_(limits) {}

  // Consumes bytes of the current request from `data` and returns how many it
  // used; bytes after a complete request belong to the next one (pipelining).
  std::size_t feed(std::string_view data);
  // Like feed(), but stops at the end of the head: the caller may look at the
  // head (is the token there? may this body be buffered?) before it takes
  // a single byte of the body.
  std::size_t feed_head(std::string_view data);
  // The head is parsed and the body (if any) not yet complete or begun.
  bool head_complete() const { return in_body_; }
  // The request as far as parsed: after head_complete(), every header.
  const request& head() const { return request_; }
  // The body length the head announced.
  std::size_t body_expected() const { return body_expected_; }

  state current() const { return state_; }
  // After an error: the status to answer with (400, 413, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

  // The complete request; resets the parser for the next one.
  request take();

 private:
  void parse_head();
  void fail(int status, std::string reason);

  parser_limits limits_;
  state state_ = state::need_more;
  bool in_body_ = false;
  std::string head_;
  std::size_t body_expected_ = 0;
  request request_;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace peerlab::http

#include "http/request_parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "http/text.hpp"

namespace peerlab::http {

namespace {

// RFC 9110 token characters: header names and methods.
bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

}  // namespace

const std::string* request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return &value;
  }
  return nullptr;
}

std::string_view request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

bool request::keep_alive() const {
  const auto* connection = header("connection");
  if (connection && iequals(trim(*connection), "close")) return false;
  if (version_minor == 0) return connection && iequals(trim(*connection), "keep-alive");
  return true;
}

std::size_t request_parser::feed_head(std::string_view data) {
  if (state_ != state::need_more || in_body_) return 0;
  // Look for the blank line that ends the head, also across pieces.
  const std::size_t search_from = head_.size() >= 3 ? head_.size() - 3 : 0;
  const std::size_t room = limits_.max_head_bytes - head_.size();
  const auto piece = data.substr(0, room);
  head_.append(piece);
  const auto end = head_.find("\r\n\r\n", search_from);
  if (end == std::string::npos) {
    if (head_.size() >= limits_.max_head_bytes) fail(431, "request head too large");
    return piece.size();
  }
  const std::size_t used = piece.size() - (head_.size() - (end + 4));
  head_.resize(end + 4);
  parse_head();
  if (state_ == state::error) return used;
  in_body_ = true;
  if (body_expected_ == 0) state_ = state::complete;
  return used;
}

std::size_t request_parser::feed(std::string_view data) {
  std::size_t used = feed_head(data);
  if (state_ != state::need_more || !in_body_) return used;
  const auto take = std::min(data.size() - used, body_expected_ - request_.body.size());
  request_.body.append(data.substr(used, take));
  used += take;
  if (request_.body.size() == body_expected_) state_ = state::complete;
  return used;
}

void request_parser::parse_head() {
  std::string_view rest = head_;
  rest.remove_suffix(2);  // the final empty line's CRLF
  auto next_line = [&rest]() {
    const auto eol = rest.find("\r\n");
    const auto line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    return line;
  };

  // Request line: METHOD SP TARGET SP HTTP/1.x
  const auto line = next_line();
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method");
  if (target.empty() || target.front() != '/' ||
      std::any_of(target.begin(), target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return fail(400, "malformed request target");
  }
  if (version == "HTTP/1.1") {
    request_.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    request_.version_minor = 0;
  } else {
    return fail(version.starts_with("HTTP/") ? 505 : 400, "unsupported HTTP version");
  }
  request_.method = method;
  request_.target = target;

  while (!rest.empty()) {
    const auto header_line = next_line();
    if (header_line.empty() || header_line.front() == ' ' || header_line.front() == '\t') {
      return fail(400, "malformed header line");  // includes obsolete line folding
    }
    if (request_.headers.size() >= limits_.max_headers) return fail(431, "too many headers");
    const auto colon = header_line.find(':');
    if (colon == std::string_view::npos || !is_token(header_line.substr(0, colon))) {
      return fail(400, "malformed header name");  // no space allowed before the colon
    }
    auto name = to_lower(header_line.substr(0, colon));
    const auto value = trim(header_line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return c == '\0' || c == '\r' || c == '\n'; })) {
      return fail(400, "malformed header value");
    }
    request_.headers.emplace_back(std::move(name), value);
  }

  if (request_.version_minor == 1 && !request_.header("host"))
    return fail(400, "missing Host header");
  // Conflicting framing is how request smuggling starts: refuse it outright.
  std::size_t length_headers = 0;
  for (const auto& [name, value] : request_.headers)
    length_headers += name == "content-length";
  if (request_.header("transfer-encoding")) {
    if (length_headers > 0) return fail(400, "both Transfer-Encoding and Content-Length");
    return fail(501, "Transfer-Encoding in requests is not supported");
  }
  if (length_headers > 1) return fail(400, "more than one Content-Length");
  if (const auto* length = request_.header("content-length")) {
    std::size_t n = 0;
    const auto* end = length->data() + length->size();
    const auto [ptr, ec] = std::from_chars(length->data(), end, n);
    if (length->empty() || ec != std::errc{} || ptr != end)
      return fail(400, "malformed Content-Length");
    if (n > limits_.max_body_bytes) return fail(413, "request body too large");
    body_expected_ = n;  // reserved as it arrives, not on a header's word
  }
}

void request_parser::fail(int status, std::string reason) {
  state_ = state::error;
  error_status_ = status;
  error_reason_ = std::move(reason);
}

request request_parser::take() {
  request done = std::move(request_);
  *this = request_parser(limits_);
  return done;
}

}  // namespace peerlab::http

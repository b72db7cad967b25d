#include "protocol/http_reply.hpp"

#include <algorithm>

namespace peerlab::protocol {

namespace {

constexpr std::size_t max_header_lines = 100;
constexpr std::size_t max_chunk_line_bytes = 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

http_reply_reader::state http_reply_reader::fail(std::string why) {
  error_ = std::move(why);
  return state_ = state::failed;
}

http_reply_reader::state http_reply_reader::feed(std::string_view bytes) {
  if (state_ != state::need_more) return state_;
  if (head_done_) {
    if (!chunked_) return append_body(bytes);
    buffer_.append(bytes);
    return take_chunks();
  }
  // Search only where the blank line could newly end: O(n) over all feeds.
  const std::size_t from = buffer_.size() < 3 ? 0 : buffer_.size() - 3;
  buffer_.append(bytes);
  const auto end = buffer_.find("\r\n\r\n", from);
  if (end == std::string::npos || end + 4 > max_http_reply_head_bytes) {
    if (buffer_.size() > max_http_reply_head_bytes)
      return fail("reply head longer than " + std::to_string(max_http_reply_head_bytes) + " bytes");
    return state_;
  }
  head_done_ = true;
  if (parse_head(std::string_view(buffer_).substr(0, end + 2)) != state::need_more) return state_;
  const std::string rest = buffer_.substr(end + 4);
  buffer_.clear();
  if (status_ == 204 || status_ == 304 || length_ == 0) return state_ = state::done;
  if (!chunked_) return append_body(rest);
  buffer_ = rest;
  return take_chunks();
}

http_reply_reader::state http_reply_reader::close() {
  if (state_ != state::need_more) return state_;
  if (!head_done_) {
    return fail(buffer_.empty()
                    ? "the server closed the connection without a reply"
                    : "the server closed the connection in the middle of the reply head");
  }
  if (chunked_) return fail("the server closed the connection in the middle of a chunked body");
  if (length_) {
    return fail("the server closed the connection " + std::to_string(body_.size()) +
                " bytes into a body of " + std::to_string(*length_));
  }
  return state_ = state::done;
}

http_reply_reader::state http_reply_reader::parse_head(std::string_view head) {
  // "HTTP/1.1 200 OK\r\n", then "Name: value\r\n" lines.
  const auto line_end = head.find("\r\n");
  const auto status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ' ||
      !all_digits(status_line.substr(9, 3)) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return fail("malformed HTTP status line");
  }
  status_ = std::stoi(std::string(status_line.substr(9, 3)));
  reason_ = std::string(trim(status_line.substr(std::min<std::size_t>(12, status_line.size()))));
  if (status_ < 200) return fail("unexpected interim reply " + std::to_string(status_));

  std::size_t lines = 0;
  for (auto at = line_end + 2; at < head.size();) {
    const auto next = head.find("\r\n", at);
    const auto line = head.substr(at, next - at);
    at = next + 2;
    if (++lines > max_header_lines) return fail("reply with more than 100 header lines");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed reply header line");
    const auto name = lower(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      if (!all_digits(value) || value.size() > 18) return fail("malformed Content-Length");
      const auto n = std::stoull(std::string(value));
      if (length_ && *length_ != n) return fail("two different Content-Length headers");
      length_ = n;
    } else if (name == "transfer-encoding") {
      const auto coding = lower(value);
      if (coding == "chunked") {
        chunked_ = true;
      } else if (coding != "identity") {
        return fail("unsupported transfer coding " + coding);
      }
    }
  }
  if (chunked_) length_.reset();  // chunks frame the body, whatever the length says
  if (length_ && *length_ > max_body_) {
    return fail("reply body of " + std::to_string(*length_) +
                " bytes is larger than the limit of " + std::to_string(max_body_));
  }
  return state_;
}

http_reply_reader::state http_reply_reader::append_body(std::string_view bytes) {
  if (length_) bytes = bytes.substr(0, *length_ - body_.size());
  if (body_.size() + bytes.size() > max_body_) {
    return fail("reply body larger than the limit of " + std::to_string(max_body_) + " bytes");
  }
  body_.append(bytes);
  if (length_ && body_.size() == *length_) state_ = state::done;
  return state_;
}

http_reply_reader::state http_reply_reader::take_chunks() {
  // chunk = size-in-hex [;ext] CRLF data CRLF; the last has size 0, then
  // optional trailer lines and a blank line (RFC 9112 §7.1).
  while (state_ == state::need_more) {
    const std::string_view rest = std::string_view(buffer_).substr(consumed_);
    if (phase_ == chunk_phase::data) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, rest.size()));
      if (n == 0) break;
      body_.append(rest.substr(0, n));
      consumed_ += n;
      chunk_left_ -= n;
      if (chunk_left_ == 0) phase_ = chunk_phase::data_end;
      continue;
    }
    if (phase_ == chunk_phase::data_end) {
      if (rest.size() < 2) break;
      if (!rest.starts_with("\r\n")) return fail("chunk data not followed by CRLF");
      consumed_ += 2;
      phase_ = chunk_phase::size_line;
      continue;
    }
    const auto eol = rest.find("\r\n");
    if (eol == std::string_view::npos) {
      if (rest.size() > max_chunk_line_bytes) return fail("chunk line too long");
      break;
    }
    const auto line = rest.substr(0, eol);
    consumed_ += eol + 2;
    if (phase_ == chunk_phase::trailers) {
      if (line.empty()) return state_ = state::done;
      trailer_bytes_ += line.size();
      if (trailer_bytes_ > max_http_reply_head_bytes) return fail("reply trailers too long");
      continue;
    }
    const auto digits = trim(line.substr(0, line.find(';')));
    if (digits.empty() || digits.size() > 15) return fail("malformed chunk size");
    std::uint64_t size = 0;
    for (const char c : digits) {
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return fail("malformed chunk size");
      size = size * 16 + static_cast<std::uint64_t>(d);
    }
    if (size > max_body_ - body_.size()) {
      return fail("reply body larger than the limit of " + std::to_string(max_body_) + " bytes");
    }
    chunk_left_ = size;
    phase_ = size == 0 ? chunk_phase::trailers : chunk_phase::data;
  }
  // Keep the buffer to what is not read yet.
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return state_;
}

}  // namespace peerlab::protocol

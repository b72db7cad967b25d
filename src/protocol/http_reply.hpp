#pragma once
// An HTTP/1.x reply as a client reads it (the tracker client's announce):
// the status line, the headers it needs, and the body framed by
// Content-Length, by chunks, or by the server closing the connection.
// Bytes in, "need more / done / failed" out, like http/request_parser on
// the server side; every part bounded before it is stored.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace peerlab::protocol {

inline constexpr std::size_t max_http_reply_head_bytes = 16 * 1024;

class http_reply_reader {
 public:
  enum class state { need_more, done, failed };

  explicit http_reply_reader(std::size_t max_body_bytes) : max_body_(max_body_bytes) {}

  // The next bytes received. Bytes after the end of the reply are ignored.
  state feed(std::string_view bytes);
  // The server closed the connection: a body without a length ends here;
  // anything else unfinished is an error.
  state close();

  state current() const { return state_; }
  int status() const { return status_; }
  const std::string& reason() const { return reason_; }
  const std::string& body() const { return body_; }
  const std::string& error() const { return error_; }

 private:
  enum class chunk_phase { size_line, data, data_end, trailers };

  state fail(std::string why);
  state parse_head(std::string_view head);
  state take_body();
  state take_chunks();
  state append_body(std::string_view bytes);

  std::size_t max_body_;
  state state_ = state::need_more;
  bool head_done_ = false;
  std::string buffer_;        // the head until it ends; then unread chunked bytes
  std::size_t consumed_ = 0;  // of buffer_, by the chunk reader
  int status_ = 0;
  std::string reason_;
  std::optional<std::uint64_t> length_;
  bool chunked_ = false;
  chunk_phase phase_ = chunk_phase::size_line;
  std::uint64_t chunk_left_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string body_;
  std::string error_;
};

}  // namespace peerlab::protocol

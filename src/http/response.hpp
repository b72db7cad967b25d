#pragma once
// An HTTP response and its serialisation. Every response carries Date and
// Content-Length, so a persistent connection always knows where it ends.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peerlab::peer {
class file_handle;
}

namespace peerlab::http {

// A body streamed from an open file (sendfile), never loaded into memory.
struct file_body {
  std::shared_ptr<peer::file_handle> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;               // used when there is no file
  std::optional<file_body> file;  // the body, when it comes from disk

  void set_header(std::string name, std::string value);
};

std::string_view reason_phrase(int status);

response json_response(int status, std::string body);
// A JSON body {"error": message}, as every API error looks.
response error_response(int status, std::string_view message);

// Status line and headers (with Date, Content-Length and Connection added),
// followed by the in-memory body unless the request was HEAD. A file body is
// not included: the server streams it after these bytes.
std::string serialize(const response& r, bool keep_alive, bool head_only);

}  // namespace peerlab::http

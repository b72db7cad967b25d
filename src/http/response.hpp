#pragma once
// An HTTP response and its serialisation. Every response carries Date and
// Content-Length, so a persistent connection always knows where it ends.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peerlab::http {

struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void set_header(std::string name, std::string value);
};

std::string_view reason_phrase(int status);

response json_response(int status, std::string body);
// A JSON body {"error": message}, as every API error looks.
response error_response(int status, std::string_view message);

// Status line and headers (with Date, Content-Length and Connection added),
// followed by the body unless the request was HEAD.
std::string serialize(const response& r, bool keep_alive, bool head_only);

}  // namespace peerlab::http

#pragma once
// An HTTP/1.1 request as the parser hands it to the router.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/endpoint.hpp"

namespace peerlab::http {

struct request {
  std::string method;                                        // "GET", "HEAD", "POST", …
  std::string target;                                        // as sent: "/api/peers?x=1"
  int version_minor = 1;                                     // HTTP/1.0 or HTTP/1.1
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  protocol::endpoint local;   // the connection it came on: our end
  protocol::endpoint remote;  // and the client's

  // The value of a header, or nullptr. Names are matched case-insensitively.
  const std::string* header(std::string_view name) const;
  // The target without its query string.
  std::string_view path() const;
  // Persistent connection: the default in HTTP/1.1, opt-in in HTTP/1.0.
  bool keep_alive() const;
};

}  // namespace peerlab::http

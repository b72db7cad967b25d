#pragma once
// Defends the local API against web pages in the user's own browser.
//  - DNS rebinding: a page from evil.example re-points its name at 127.0.0.1
//    and reads our API as if same-origin. Its requests still say
//    `Host: evil.example`, so we answer only requests whose Host is an
//    address or a name of this node.
//  - Cross-site actions: a page may POST to us (a "simple" request needs no
//    CORS preflight); its Origin then names another site, and we refuse.
// Pure: the request and this node's names in, a refusal (or none) out.

#include <optional>
#include <string>
#include <vector>

#include "http/request.hpp"
#include "http/response.hpp"

namespace peerlab::http {

// `names`: host names that mean this node (lower case), e.g. "localhost",
// the machine's host name, NAME.local, every --allow-host, and the text of
// every local IP address ("10.0.0.5", "fe80::1"). IP literals are accepted
// when they are in `names`, the address the request arrived on, or
// loopback. A refusal (403) names the --allow-host flag that would allow it.
std::optional<response> check_host_and_origin(const request& req,
                                              const std::vector<std::string>& names);

}  // namespace peerlab::http

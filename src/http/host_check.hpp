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

// `names`: host names that mean this node (lower case), e.g. "localhost" and
// the machine's host name. IP literals are accepted when they are the
// address the request arrived on or a loopback address.
std::optional<response> check_host_and_origin(const request& req,
                                              const std::vector<std::string>& names);

}  // namespace peerlab::http

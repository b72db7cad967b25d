#pragma once
// GET /files/ID (and HEAD): a complete, verified file this node shares, over
// plain HTTP/1.1. This is the client-server path beside the swarm: one
// server, any number of clients (curl, wget -c, aria2c -x4, a browser).
//
// The URL names a content id, never a path: the id is looked up in the
// node's catalog, so no spelling of the URL (.., %2e%2e, %2F) can reach a
// file the node does not share. An optional last segment, /files/ID/NAME,
// gives tools that name downloads after the URL a readable name; it must
// match the file's name. A folder's id leads to folder_route.hpp.

#include "http/request.hpp"
#include "http/response.hpp"
#include "peer/swarm.hpp"

namespace peerlab::http {

// ETag, If-None-Match (304), single byte ranges with If-Range (206, 416).
response serve_file(const peer::swarm& files, const request& req);
// The same for one file found already (a folder's file: its ETag is the
// file's own content id).
response serve_local(const peer::local_file& file, const protocol::content_id& id,
                     const request& req);

}  // namespace peerlab::http

#pragma once
// A folder over plain HTTP: /files/ID/ is its index (an HTML page of links
// that `wget -r` follows; JSON with Accept: application/json; an aria2c
// input file with ?list=aria2), and /files/ID/PATH one of its files, served
// as any file (Range, ETag = the file's own content id). Only paths that the
// folder manifest lists, and whose files are in place, are ever served: the
// URL is matched against the manifest, never used as a file name.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/request.hpp"
#include "http/response.hpp"
#include "peer/swarm.hpp"

namespace peerlab::http {

// `path`: after /files/ID/, percent-decoded (nullopt: no slash after the id).
response serve_folder(const peer::swarm& files, const request& req, const protocol::content_id& id,
                      const std::optional<std::string>& path);

// GET /api/folders/ID: every entry, and whether it is in place here.
nlohmann::json folder_json(const peer::swarm& files, const peer::folder_record& r);
// A folder transfer's files, for /api/transfers/ID.
nlohmann::json folder_files_json(const std::vector<peer::folder_file_progress>& files);

}  // namespace peerlab::http

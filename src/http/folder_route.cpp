#include "http/folder_route.hpp"

#include <cctype>

#include "http/file_route.hpp"

namespace peerlab::http {

using nlohmann::json;

namespace {

// Every byte but unreserved ones and '/' percent-encoded (RFC 3986), so a
// path is one relative link whatever its characters.
std::string url_path(std::string_view path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out;
}

std::string html_escaped(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool in_place(const peer::folder_record& r, std::size_t i) {
  return r.manifest.entries[i].is_file() && r.stamps[i].has_value();
}

std::string_view query(const request& req) {
  const auto q = req.target.find('?');
  return q == std::string::npos ? std::string_view{} : std::string_view(req.target).substr(q + 1);
}

response index(const request& req, const peer::folder_record& r) {
  const auto id = protocol::to_hex(r.id);
  const auto* accept = req.header("accept");
  response out;
  if (accept && accept->find("application/json") != std::string::npos) {
    json files = json::array();
    for (std::size_t i = 0; i < r.manifest.entries.size(); ++i) {
      const auto& e = r.manifest.entries[i];
      if (in_place(r, i))
        files.push_back({{"path", e.path},
                         {"size", e.size},
                         {"id", protocol::to_hex(e.id)},
                         {"url", "/files/" + id + "/" + url_path(e.path)}});
    }
    return json_response(200, json{{"id", id}, {"name", r.manifest.name}, {"files", files}}.dump(
                                  -1, ' ', false, json::error_handler_t::replace));
  }
  const auto* host = req.header("host");
  if (query(req) == "list=aria2" && host) {
    // aria2c -i: one URL per file, and where it goes (under the folder's name).
    for (std::size_t i = 0; i < r.manifest.entries.size(); ++i) {
      if (!in_place(r, i)) continue;
      out.body += "http://" + *host + "/files/" + id + "/" + url_path(r.manifest.entries[i].path) +
                  "\n  out=" + r.manifest.name + "/" + r.manifest.entries[i].path + "\n";
    }
    out.set_header("Content-Type", "text/plain; charset=utf-8");
    return out;
  }
  out.body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
             html_escaped(r.manifest.name) + "/</title></head><body>\n<h1>" +
             html_escaped(r.manifest.name) + "/</h1>\n<ul>\n";
  for (std::size_t i = 0; i < r.manifest.entries.size(); ++i) {
    const auto& e = r.manifest.entries[i];
    if (!e.is_file()) {
      out.body += "<li>" + html_escaped(e.path) + "/ (empty)</li>\n";
    } else if (in_place(r, i)) {
      out.body += "<li><a href=\"" + url_path(e.path) + "\">" + html_escaped(e.path) + "</a> " +
                  std::to_string(e.size) + " bytes</li>\n";
    }
  }
  out.body += "</ul>\n</body></html>\n";
  out.set_header("Content-Type", "text/html; charset=utf-8");
  // Names come from peers: the page runs no script, whatever they hold.
  out.set_header("Content-Security-Policy", "default-src 'none'");
  out.set_header("X-Content-Type-Options", "nosniff");
  return out;
}

}  // namespace

response serve_folder(const peer::swarm& files, const request& req, const protocol::content_id& id,
                      const std::optional<std::string>& path) {
  const auto* r = files.folder(id);
  if (!r) return error_response(404, "no such file here");
  if (!path) {  // relative links need the slash
    response out;
    out.status = 301;
    out.set_header("Location", "/files/" + protocol::to_hex(id) + "/");
    return out;
  }
  if (path->empty()) return index(req, *r);
  const auto file = files.folder_file(id, *path);
  if (!file) return error_response(404, "no such file in this folder here");
  const auto& entries = r->manifest.entries;
  const auto it = std::lower_bound(entries.begin(), entries.end(), *path,
                                   [](const auto& e, const std::string& p) { return e.path < p; });
  return serve_local(*file, it->id, req);
}

json folder_json(const peer::swarm& files, const peer::folder_record& r) {
  (void)files;
  json entries = json::array();
  for (std::size_t i = 0; i < r.manifest.entries.size(); ++i) {
    const auto& e = r.manifest.entries[i];
    json j = {{"path", e.path}, {"kind", e.is_file() ? "file" : "directory"}};
    if (e.is_file()) {
      j.update({{"size", e.size}, {"id", protocol::to_hex(e.id)}, {"local", in_place(r, i)}});
    }
    entries.push_back(std::move(j));
  }
  return {{"id", protocol::to_hex(r.id)},     {"name", r.manifest.name},
          {"size", r.manifest.total_bytes()}, {"files", r.manifest.file_count()},
          {"path", r.root.string()},          {"shared", r.shared},
          {"complete", r.complete},           {"entries", entries}};
}

json folder_files_json(const std::vector<peer::folder_file_progress>& files) {
  json out = json::array();
  for (const auto& f : files) {
    out.push_back({{"path", f.path},
                   {"size", f.size},
                   {"directory", f.directory},
                   {"state", f.state},
                   {"bytes_done", f.bytes_done}});
  }
  return out;
}

}  // namespace peerlab::http

#include "http/file_route.hpp"

#include <array>
#include <cctype>
#include <utility>

#include "http/folder_route.hpp"
#include "http/range.hpp"
#include "http/text.hpp"
#include "peer/log.hpp"
#include "peer/store.hpp"

namespace peerlab::http {

namespace {

constexpr std::string_view prefix = "/files/";

response not_found() {
  return error_response(404, "no such file here");
}

// Types for common files; anything else is a plain download. Nothing a
// browser would execute (HTML, SVG, JavaScript) is announced as such.
std::string content_type(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> types{{
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/plain; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".json", "application/json"},
      {".pdf", "application/pdf"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".mp3", "audio/mpeg"},
      {".mp4", "video/mp4"},
      {".zip", "application/zip"},
      {".gz", "application/gzip"},
      {".tar", "application/x-tar"},
  }};
  const auto lower = to_lower(name);
  for (const auto& [extension, type] : types) {
    if (lower.ends_with(extension)) return std::string(type);
  }
  return "application/octet-stream";
}

// RFC 6266: an ASCII fallback, and the exact UTF-8 name percent-encoded (RFC 8187).
std::string content_disposition(std::string_view name) {
  std::string fallback;
  std::string encoded;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    fallback += (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') ? c : '_';
    if (std::isalnum(byte) || std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos) {
      encoded += c;
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += hex[byte >> 4];
      encoded += hex[byte & 15];
    }
  }
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110 §13.1.2).
bool none_match(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t'))
      tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t'))
      tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

}  // namespace

response serve_file(const peer::swarm& files, const request& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = error_response(405, "method not allowed");
    r.set_header("Allow", "GET, HEAD");
    return r;
  }
  auto rest = req.path().substr(prefix.size());
  const auto slash = rest.find('/');
  const auto id_text = rest.substr(0, slash);
  if (id_text.size() < 8 || id_text.size() > 64 ||
      id_text.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return not_found();
  }
  const auto id = files.resolve(std::string(id_text));
  if (id && files.folder(*id)) {
    return serve_folder(files, req, *id,
                        slash == std::string_view::npos
                            ? std::nullopt
                            : std::optional<std::string>(percent_decode(rest.substr(slash + 1))));
  }
  const auto file = id ? files.complete_file(*id) : std::nullopt;
  if (!file) return not_found();
  if (slash != std::string_view::npos && percent_decode(rest.substr(slash + 1)) != file->name) {
    return not_found();
  }
  return serve_local(*file, *id, req);
}

response serve_local(const peer::local_file& local, const protocol::content_id& id,
                     const request& req) {
  const auto* file = &local;
  auto opened = peer::store::open_shared(file->path, file->stamp);
  if (!opened) {
    peer::log_line(peer::log_level::warn)
        << "http: not serving " << file->path << ": " << opened.error_message();
    return error_response(404, "the file changed on disk since it was shared");
  }

  const auto etag = "\"" + protocol::to_hex(id) + "\"";
  response r;
  r.set_header("ETag", etag);
  r.set_header("Accept-Ranges", "bytes");
  if (const auto* inm = req.header("if-none-match"); inm && none_match(*inm, etag)) {
    r.status = 304;
    return r;
  }
  r.set_header("Content-Type", content_type(file->name));
  r.set_header("Content-Disposition", content_disposition(file->name));
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Content-Security-Policy", "sandbox");

  byte_range range;
  const auto* range_header = req.header("range");
  const auto* if_range = req.header("if-range");
  // Ranges are defined for GET only; If-Range: the range only if the file is
  // still the one the client started with (an HTTP date never matches: we
  // send no Last-Modified).
  if (range_header && req.method == "GET" && (!if_range || *if_range == etag)) {
    range = parse_range(*range_header, file->size);
  }
  switch (range.what) {
    case byte_range::kind::whole:
      r.file = file_body{std::move(*opened), 0, file->size};
      break;
    case byte_range::kind::partial:
      r.status = 206;
      r.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                        std::to_string(range.last) + "/" +
                                        std::to_string(file->size));
      r.file = file_body{std::move(*opened), range.first, range.length()};
      break;
    case byte_range::kind::unsatisfiable:
      r = error_response(416, "the range lies outside the file");
      r.set_header("Content-Range", "bytes */" + std::to_string(file->size));
      r.set_header("Accept-Ranges", "bytes");
      break;
  }
  return r;
}

}  // namespace peerlab::http

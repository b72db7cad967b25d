#include "http/response.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

namespace peerlab::http {

namespace {
// The Date header changes once a second: format it once a second.
const std::string& http_date() {
  thread_local std::time_t formatted_at = -1;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != formatted_at) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buffer[40];
    std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    text = buffer;
    formatted_at = now;
  }
  return text;
}
}  // namespace

void response::set_header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

response json_response(int status, std::string body) {
  response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.set_header("Cache-Control", "no-store");
  r.body = std::move(body);
  r.body += '\n';
  return r;
}

response error_response(int status, std::string_view message) {
  return json_response(status, nlohmann::json{{"error", message}}.dump(
                                   -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string serialize(const response& r, bool keep_alive, bool head_only) {
  std::string out =
      "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reason_phrase(r.status)) + "\r\n";
  out += "Date: " + http_date() + "\r\n";
  out += "Server: peerlab\r\n";
  for (const auto& [name, value] : r.headers)
    out += name + ": " + value + "\r\n";
  const std::uint64_t length = r.file ? r.file->length : r.body.size();
  // 304 and 204 have no body; 304 keeps no length either (RFC 9110 §8.6).
  if (r.status != 304 && r.status != 204)
    out += "Content-Length: " + std::to_string(length) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  if (!head_only && !r.file) out += r.body;
  return out;
}

}  // namespace peerlab::http

#include "cli/api_client.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "cli/format.hpp"
#include "peer/data_dir.hpp"
#include "protocol/endpoint.hpp"

namespace peerlab::cli {

using protocol::error;
using protocol::result;

void add_target_options(CLI::App& cmd, target_options& options) {
  cmd.add_option("--dir", options.dir, "Data directory of the node to ask");
  cmd.add_option("--api", options.api, "Ask the node at this URL instead (http://IP:PORT)");
  cmd.add_option("--token", options.token, "API token to use with --api");
}

result<api_target> find_node(const target_options& options) {
  if (!options.api.empty()) {
    std::string url = options.api;
    while (url.ends_with('/'))
      url.pop_back();
    return api_target{url, options.token, url};
  }
  const auto dir = peer::resolve_data_dir(options.dir);
  auto info = peer::read_node_info(dir);
  if (!info) return error{info.error_message()};
  // A node bound to every interface (older ones wrote 0.0.0.0 here): the
  // CLI on this machine reaches it on loopback.
  if (auto http = protocol::parse_endpoint(info->http); http && protocol::is_unspecified(*http)) {
    auto local = *protocol::parse_endpoint(http->family == protocol::ip_family::v6 ? "[::1]:0"
                                                                                   : "127.0.0.1:0");
    local.port = http->port;
    info->http = protocol::to_string(local);
  }
  return api_target{info->api_url(), info->token, "data directory " + dir.string()};
}

namespace {

struct http_reply {
  int status = 0;
  std::string body;
};

// One request on a fresh connection (Connection: close), read to the end.
result<http_reply> exchange(const std::string& url, const std::string& request,
                            std::chrono::milliseconds timeout) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return error{"the API URL must start with http://"};
  const auto authority = url.substr(scheme.size());
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos)
    return error{"the API URL needs a port, e.g. http://127.0.0.1:8080"};
  std::string host = authority.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  const auto port = authority.substr(colon + 1);

  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::socket socket(io);
  std::string response;
  std::error_code failure;
  resolver.async_resolve(host, port, [&](std::error_code ec, auto endpoints) {
    if (ec) return void(failure = ec);
    asio::async_connect(socket, endpoints, [&](std::error_code ec, const auto&) {
      if (ec) return void(failure = ec);
      asio::async_write(socket, asio::buffer(request), [&](std::error_code ec, std::size_t) {
        if (ec) return void(failure = ec);
        asio::async_read(socket, asio::dynamic_buffer(response, 64 * 1024 * 1024),
                         [&](std::error_code ec, std::size_t) {
                           if (ec && ec != asio::error::eof) failure = ec;
                         });
      });
    });
  });
  io.run_for(timeout);
  if (!io.stopped()) {
    return error{"no answer within " + (timeout < std::chrono::seconds(1)
                                            ? std::to_string(timeout.count()) + " ms"
                                            : human_duration(timeout.count() / 1000.0))};
  }
  if (failure) return error{failure.message()};

  if (response.empty()) return error{"it closed the connection without an answer"};
  // Status line "HTTP/1.1 200 OK", headers, blank line, body.
  const auto head_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || response.size() < 12 || head_end == std::string::npos) {
    return error{"the node sent a malformed HTTP response"};
  }
  http_reply reply;
  reply.status = std::atoi(response.substr(9, 3).c_str());
  reply.body = response.substr(head_end + 4);
  return reply;
}

// One API call: method, path and an optional JSON body; the answer must be
// 200 with JSON, anything else becomes a sentence naming the node's error.
result<nlohmann::json> call(const api_target& target, std::string_view method,
                            const std::string& path, const nlohmann::json* body,
                            std::chrono::milliseconds timeout) {
  const auto authority = target.url.substr(target.url.find("//") + 2);
  std::string request = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + authority +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  if (!target.token.empty()) request += "Authorization: Bearer " + target.token + "\r\n";
  std::string payload;
  if (body) {
    payload = body->dump();
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(payload.size()) +
        "\r\n";
  }
  request += "\r\n" + payload;
  auto reply = exchange(target.url, request, timeout);
  if (!reply) {
    const auto whose = target.where == target.url ? "" : " for " + target.where;
    return error{"cannot reach the peerlab node" + whose + " at " + target.url + " (" +
                 reply.error_message() + "); is it running?"};
  }
  const auto answer = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status != 200) {
    const auto message =
        answer.is_object() && answer.contains("error") && answer["error"].is_string()
            ? answer["error"].get<std::string>()
            : "HTTP " + std::to_string(reply->status);
    return error{"the node answered " + std::string(method) + " " + path +
                 " with an error: " + message};
  }
  if (answer.is_discarded()) return error{"the node sent invalid JSON for " + path};
  return answer;
}

}  // namespace

result<nlohmann::json> api_get(const api_target& target, const std::string& path,
                               std::chrono::milliseconds timeout) {
  return call(target, "GET", path, nullptr, timeout);
}

result<nlohmann::json> api_post(const api_target& target, const std::string& path,
                                const nlohmann::json& body, std::chrono::milliseconds timeout) {
  return call(target, "POST", path, &body, timeout);
}

}  // namespace peerlab::cli

#pragma once
// The CLI's side of the node's HTTP API: find the node (through --dir, or
// --api and --token) and make one request with a deadline.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "protocol/result.hpp"

namespace peerlab::cli {

struct api_target {
  std::string url;  // http://IP:PORT
  std::string token;
  std::string where;  // how to name the node in error messages
};

// Adds --dir, --api and --token to a subcommand that talks to a node.
void add_target_options(CLI::App& cmd, target_options& options);

protocol::result<api_target> find_node(const target_options& options);

constexpr std::chrono::milliseconds default_api_timeout = std::chrono::seconds(5);

// GETs a path and parses the JSON answer; errors are one readable sentence.
protocol::result<nlohmann::json> api_get(const api_target& target, const std::string& path,
                                         std::chrono::milliseconds timeout = default_api_timeout);

// POSTs a JSON body (an action: needs the node's token) and parses the answer.
protocol::result<nlohmann::json> api_post(const api_target& target, const std::string& path,
                                          const nlohmann::json& body,
                                          std::chrono::milliseconds timeout = default_api_timeout);

}  // namespace peerlab::cli

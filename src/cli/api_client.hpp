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

protocol::result<api_target> find_node(const target_options& options);

// GETs a path and parses the JSON answer; errors are one readable sentence.
protocol::result<nlohmann::json> api_get(
    const api_target& target, const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace peerlab::cli

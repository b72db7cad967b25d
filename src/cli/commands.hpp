#pragma once
// One function per subcommand file: each adds its subcommand to the app and
// stores its exit code when it runs.

#include <CLI/CLI.hpp>
#include <string>

namespace peerlab::cli {

// Options every query command shares: where the node is, and how to print.
struct target_options {
  std::string dir;
  std::string api;
  std::string token;
  bool json = false;
};

void add_node_command(CLI::App& app, int& exit_code);
void add_query_commands(CLI::App& app, int& exit_code);
void add_transfer_commands(CLI::App& app, int& exit_code);  // share, get, files
void add_torrent_command(CLI::App& app, int& exit_code);

}  // namespace peerlab::cli

// peerlab: a peer-to-peer file-sharing node. `peerlab node` runs one; the
// other subcommands talk to a running node over its HTTP API.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"peerlab: a peer-to-peer file-sharing node"};
  app.require_subcommand(1);
  int exit_code = 0;
  peerlab::cli::add_node_command(app, exit_code);
  peerlab::cli::add_transfer_commands(app, exit_code);
  peerlab::cli::add_query_commands(app, exit_code);
  peerlab::cli::add_torrent_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peerlab: %s\n", e.what());
    return 1;
  }
  return exit_code;
}

// `peerlab peers` and `peerlab status`: ask a running node and print the answer.

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"

namespace peerlab::cli {

namespace {

using nlohmann::json;

void print_peers(const json& peers) {
  if (peers.empty()) {
    std::cout << "no peers connected\n";
    return;
  }
  table t({"ID", "NAME", "LISTENS ON", "DIRECTION", "LOCAL", "REMOTE", "UP", "DOWN"});
  for (const auto& p : peers) {
    t.add({p.value("id", "").substr(0, 8), p.value("name", ""), p.value("address", ""),
           p.value("direction", ""), p.value("local", ""), p.value("remote", ""),
           human_bytes(p.value("bytes_up", 0.0)), human_bytes(p.value("bytes_down", 0.0))});
  }
  t.print(std::cout);
  std::cout << "(inbound: accepted on our listening socket; outbound: we dialed it. "
               "LOCAL and REMOTE are the connection's two ends.)\n";
}

void print_status(const json& s) {
  std::cout << "node       " << s.value("id", "") << " (" << s.value("name", "") << ")\n"
            << "listening  " << s.value("listen", "") << " for peers, http://"
            << s.value("http", "") << " for the dashboard and API\n"
            << "discovery  "
            << (s.value("lan_discovery", false) ? "LAN beacons on" : "no LAN beacons") << "\n"
            << "peers      " << s.value("connections", 0) << " connected, "
            << s.value("handshakes", 0) << " in handshake, " << s.value("known_peers", 0)
            << " known\n"
            << "traffic    " << human_bytes(s.value("bytes_up", 0.0)) << " up, "
            << human_bytes(s.value("bytes_down", 0.0)) << " down\n";
  if (const auto t = s.find("tracker"); t != s.end() && t->is_object()) {
    std::cout << "tracker    " << t->value("torrents", 0) << " torrents, " << t->value("peers", 0)
              << " peers (" << t->value("seeders", 0) << " seeding) at /announce\n";
  }
  std::cout << "uptime     " << human_duration(s.value("uptime_seconds", 0.0)) << "\n";
  if (!s.contains("folders") || !s["folders"].is_array()) return;
  for (const auto& f : s["folders"]) {
    std::cout << "folder     " << f.value("name", "") << "/ " << f.value("files", 0) << " files, "
              << human_bytes(f.value("size", 0.0)) << ", " << f.value("local", "") << " ("
              << f.value("id", "").substr(0, 12) << ")\n";
  }
}

// Adds a subcommand that GETs `path` and prints it as JSON or with `print`.
void add_query(CLI::App& app, int& exit_code, const std::string& name, const std::string& help,
               const std::string& path, void (*print)(const json&)) {
  auto options = std::make_shared<target_options>();
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("--dir", options->dir, "Data directory of the node to ask");
  cmd->add_option("--api", options->api, "Ask the node at this URL instead (http://IP:PORT)");
  cmd->add_option("--token", options->token, "API token to use with --api");
  cmd->add_flag("--json", options->json, "Machine-readable output");
  cmd->callback([=, &exit_code] {
    auto target = find_node(*options);
    auto answer = target ? api_get(*target, path)
                         : protocol::result<json>(protocol::error{target.error_message()});
    if (!answer) {
      std::fprintf(stderr, "peerlab: %s\n", answer.error_message().c_str());
      exit_code = 1;
      return;
    }
    if (options->json) {
      std::cout << answer->dump(2) << "\n";
    } else {
      print(*answer);
    }
    exit_code = 0;
  });
}

}  // namespace

void add_query_commands(CLI::App& app, int& exit_code) {
  add_query(app, exit_code, "peers", "List the peers this node is connected to", "/api/peers",
            print_peers);
  add_query(app, exit_code, "status", "Show this node's identity, sockets and traffic",
            "/api/status", print_status);
}

}  // namespace peerlab::cli

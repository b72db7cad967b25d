// `peerlab torrent ID`: writes a shared file's (or folder's: a multi-file
// torrent) .torrent (v1, v2 or hybrid) and prints its magnet link, so
// BitTorrent clients can fetch it from us.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "protocol/hex.hpp"
#include "protocol/url_encoding.hpp"

namespace peerlab::cli {

namespace {

constexpr std::chrono::milliseconds torrent_timeout = std::chrono::hours(1);

struct torrent_options {
  target_options target;
  std::string id;
  std::string output;
  std::string format = "hybrid";
  std::string tracker;
};

int run_torrent(const torrent_options& o) {
  const auto fail = [](const std::string& why) {
    std::fprintf(stderr, "peerlab: %s\n", why.c_str());
    return 1;
  };
  auto target = find_node(o.target);
  if (!target) return fail(target.error_message());
  std::string path = "/api/files/" + protocol::percent_encode(o.id) +
                     "/torrent?format=" + protocol::percent_encode(o.format);
  if (!o.tracker.empty()) path += "&tracker=" + protocol::percent_encode(o.tracker);
  // A folder recorded without its BitTorrent hashes is read and hashed
  // first (as long as sharing it took).
  auto answer = api_get(*target, path, torrent_timeout);
  if (!answer) return fail(answer.error_message());
  const auto hex = answer->value("torrent", "");
  std::vector<std::uint8_t> bytes(hex.size() / 2);
  if (hex.empty() || !protocol::from_hex(hex, bytes)) return fail("the node sent no torrent");
  const std::string name = answer->value("name", "file");
  const std::string output = o.output.empty()
                                 ? name + (o.format == "hybrid" ? "" : "." + o.format) + ".torrent"
                                 : o.output;
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return fail("cannot write " + output);
  if (o.target.json) {
    (*answer).erase("torrent");
    (*answer)["file"] = output;
    std::cout << answer->dump(2) << "\n";
  } else {
    std::cerr << "wrote " << output << " (" << o.format << ", announce "
              << answer->value("announce", "") << ")\n";
    std::cout << answer->value("magnet", "") << "\n";
  }
  return 0;
}

}  // namespace

void add_torrent_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<torrent_options>();
  auto* cmd = app.add_subcommand(
      "torrent",
      "Write a shared file's or folder's .torrent and print its magnet link (BitTorrent clients)");
  cmd->add_option("id", options->id, "Content id (or a unique prefix of at least 8 digits)")
      ->required();
  cmd->add_option("-o,--output", options->output,
                  "Where to write the .torrent (default NAME.torrent)");
  cmd->add_option("--format", options->format, "hybrid (v1 + v2), v1 or v2")
      ->check(CLI::IsMember({"hybrid", "v1", "v2"}));
  cmd->add_option("--tracker", options->tracker,
                  "Announce URL (default: this node's tracker, http://HTTP/announce)");
  add_target_options(*cmd, options->target);
  cmd->add_flag("--json", options->target.json, "Machine-readable output");
  cmd->callback([options, &exit_code] { exit_code = run_torrent(*options); });
}

}  // namespace peerlab::cli

// `peerlab node`: runs a node in the foreground until SIGINT or SIGTERM.

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "http/server.hpp"
#include "http/site.hpp"
#include "peer/data_dir.hpp"
#include "peer/local_addresses.hpp"
#include "peer/log.hpp"
#include "peer/node.hpp"
#include "peer/rate_limiter.hpp"

namespace peerlab::cli {

namespace {

struct node_options {
  std::string dir;
  std::string listen = "[::]:7070";  // every interface (0.0.0.0 without IPv6)
  std::string http = "127.0.0.1:8080";
  std::vector<std::string> peers;
  std::vector<std::string> allowed_hosts;
  bool no_discovery = false;
  std::string name;
  std::string log_level = "info";
  std::string up_limit = "0";
  std::string down_limit = "0";
  std::size_t max_peers = peer::node_settings{}.max_connections;
  bool trace = false;
};

// A node holds one socket per peer; beyond this the descriptor limit, not the
// option, would decide.
constexpr std::size_t max_peers_limit = 100000;

// Checks a RATE option (bytes per second, e.g. 500KiB, 8MiB, 0 = unlimited).
std::string check_rate(const std::string& text) {
  const auto parsed = peer::parse_rate(text);
  return parsed ? "" : parsed.error_message();
}

// Checks an IP:PORT option while CLI11 parses, so mistakes read clearly.
std::string check_endpoint(const std::string& text) {
  const auto parsed = protocol::parse_endpoint(text);
  return parsed ? "" : "'" + text + "' is not IP:PORT (" + parsed.error_message() + ")";
}

// Each peer connection needs a file descriptor; use what the system allows
// (like nginx's worker_rlimit_nofile). Returns the soft limit now in force.
rlim_t raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return RLIM_INFINITY;
  if (limit.rlim_cur < limit.rlim_max) {
    const auto hard = limit.rlim_max;
    limit.rlim_cur = hard;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) return hard;
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// Checks a HOST:PORT option (--peer): an IP literal or a host name.
std::string check_host_port(const std::string& text) {
  const auto parsed = protocol::parse_host_port(text);
  return parsed ? "" : "'" + text + "' is not HOST:PORT (" + parsed.error_message() + ")";
}

// Checks --allow-host: a host name or an IP address, without a port.
std::string check_allowed_host(const std::string& text) {
  if (protocol::is_host_name(text) || protocol::parse_endpoint(text + ":0") ||
      protocol::parse_endpoint("[" + text + "]:0")) {
    return "";
  }
  return "'" + text + "' is not a host name or an IP address";
}

// The names under which browsers may reach our HTTP server (see
// host_check.hpp): this machine's names and addresses, and --allow-host.
std::vector<std::string> host_names(const std::vector<std::string>& allowed) {
  std::vector<std::string> names{"localhost"};
  if (const auto host = peer::local_host_name(); !host.empty()) {
    names.push_back(host);
    if (!host.ends_with(".local")) names.push_back(host + ".local");  // mDNS (Avahi, Bonjour)
  }
  for (const auto& a : peer::local_addresses())
    names.push_back(protocol::ip_to_string(a.ip));
  for (auto name : allowed) {
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.starts_with('[') && name.ends_with(']')) name = name.substr(1, name.size() - 2);
    if (const auto ip = protocol::parse_endpoint("[" + name + "]:0"))
      name = protocol::ip_to_string(*ip);
    names.push_back(name);
  }
  return names;
}

// What the local CLI should dial for an HTTP server bound to `bound`: the
// address itself, or loopback when it is bound to every interface.
protocol::endpoint local_http_address(const protocol::endpoint& bound) {
  if (!protocol::is_unspecified(bound)) return bound;
  auto local = *protocol::parse_endpoint(bound.family == protocol::ip_family::v6 ? "[::1]:0"
                                                                                 : "127.0.0.1:0");
  local.port = bound.port;
  return local;
}

// Where people can open the dashboard: with --http on every interface, one
// URL per address of this machine, loopback first (link-local IPv6 left out:
// browsers cannot use them without a zone).
std::string dashboard_urls(const protocol::endpoint& bound) {
  const auto local = "http://" + protocol::to_string(local_http_address(bound)) + "/";
  if (!protocol::is_unspecified(bound)) return local;
  std::vector<std::string> others;
  for (const auto& a : peer::local_addresses()) {
    if (protocol::is_loopback(a.ip) || protocol::is_link_local(a.ip) ||
        (a.ip.family == protocol::ip_family::v6 && bound.family == protocol::ip_family::v4)) {
      continue;
    }
    auto e = a.ip;
    e.port = bound.port;
    const auto url = "http://" + protocol::to_string(e) + "/";
    if (std::find(others.begin(), others.end(), url) == others.end()) others.push_back(url);
  }
  std::string line = local;
  for (std::size_t i = 0; i < others.size(); ++i)
    line += (i == 0 ? "; from other machines: " : ", ") + others[i];
  return line;
}

int run_node(const node_options& options) {
  peer::log_level level{};
  peer::parse_log_level(options.log_level, level);
  peer::set_log_level(level);
  const auto file_limit = raise_file_limit();
  // Peers, handshakes, HTTP clients and open files share the descriptors.
  if (file_limit != RLIM_INFINITY && options.max_peers + 512 > file_limit) {
    peer::log_line(peer::log_level::warn)
        << "--max-peers " << options.max_peers << " may not fit in the " << file_limit
        << " file descriptors this process may open (ulimit -n)";
  }

  const auto dir = peer::resolve_data_dir(options.dir);
  auto lock = peer::data_dir_lock::acquire(dir);
  if (!lock) return fail(lock.error_message());
  auto id = peer::load_or_create_node_id(dir);
  if (!id) return fail(id.error_message());

  peer::node_settings settings;
  settings.data_dir = dir;
  settings.listen = *protocol::parse_endpoint(options.listen);
  settings.up_limit_bytes_per_second = *peer::parse_rate(options.up_limit);
  settings.down_limit_bytes_per_second = *peer::parse_rate(options.down_limit);
  settings.trace = options.trace;
  settings.max_connections = options.max_peers;
  for (const auto& p : options.peers) {
    const auto peer = *protocol::parse_host_port(p);
    if (peer.is_literal) {
      settings.bootstrap_peers.push_back(peer.literal);
    } else {
      settings.bootstrap_hosts.push_back(peer);
    }
  }
  settings.lan.enabled = !options.no_discovery;
  // Test-only fault switch: serve corrupted chunks, to prove downloaders reject them.
  settings.swarm.corrupt_uploads = std::getenv("PEERLAB_TEST_CORRUPT_UPLOADS") != nullptr;
  settings.name = protocol::printable_name(
      options.name.empty() ? std::filesystem::absolute(dir).filename().string() : options.name);

  // Frame and body buffers of 256 KiB and more get pages of their own, given
  // back to the system when freed: the memory budget (docs/security.md)
  // then bounds what the process really holds. (glibc would otherwise raise
  // this threshold after each such free and keep later buffers in its heap.)
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  asio::io_context io(1);  // one thread runs the whole network side
  peer::node node(io, settings, *id);
  http::api_context context{node, {}, peer::random_hex(16), host_names(options.allowed_hosts)};
  http::server_settings web_settings;
  web_settings.upload_limit = &node.upload_limiter();
  web_settings.input_budget = &node.input_budget();
  web_settings.screen = [&context](const http::request& head) {
    return http::screen_request(context, head);
  };
  http::server web(io, web_settings, [&context](http::request r) {
    return http::handle_request(context, std::move(r));
  });
  // HTTP first: the node logs once it listens, and a failure must stay one line.
  if (auto started = web.start(*protocol::parse_endpoint(options.http)); !started) {
    return fail(started.error_message());
  }
  context.http = web.local_endpoint();
  context.web = &web;
  if (auto started = node.start(); !started) {
    web.stop();
    return fail(started.error_message());
  }

  // Catch Ctrl-C and SIGTERM before telling anyone we are up: whoever reads
  // node.json may signal us at once.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int signal) {
    if (ec) return;
    peer::log_line(peer::log_level::info) << "signal " << signal << ": shutting down";
    // A second signal must not cut the clean shutdown short (the default
    // action would kill us now that no wait is pending).
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    node.stop();
    web.stop();
  });

  const peer::node_info info{protocol::to_hex(*id),
                             settings.name,
                             protocol::to_string(node.listen_endpoint()),
                             protocol::to_string(local_http_address(web.local_endpoint())),
                             context.token,
                             static_cast<long>(::getpid())};
  if (auto written = peer::write_node_info(dir, info); !written) {
    node.stop();
    web.stop();
    return fail(written.error_message());
  }
  peer::log_line(peer::log_level::info)
      << "dashboard and API on " << dashboard_urls(web.local_endpoint());

  io.run();

  std::error_code ignored;
  std::filesystem::remove(peer::node_info_path(dir), ignored);
  peer::log_line(peer::log_level::info) << "stopped";
  return 0;
}

}  // namespace

void add_node_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<node_options>();
  auto* cmd = app.add_subcommand("node", "Run a node in the foreground until Ctrl-C");
  cmd->add_option("--dir", options->dir, "Data directory (default: $PEERLAB_DIR or ~/.peerlab)");
  cmd->add_option("--listen", options->listen,
                  "Where to accept peers, IP:PORT (0 = any port; [::] = every interface)")
      ->check(check_endpoint)
      ->capture_default_str();
  cmd->add_option("--http", options->http,
                  "Where to serve the dashboard and API, IP:PORT (0.0.0.0:8080: to the LAN)")
      ->check(check_endpoint)
      ->capture_default_str();
  cmd->add_option("--peer", options->peers,
                  "A peer to dial, IP:PORT, [IPv6]:PORT or HOST:PORT (repeatable)")
      ->check(check_host_port);
  cmd->add_flag("--no-discovery", options->no_discovery,
                "Send and heed no LAN beacons (on by default unless --listen is loopback)");
  cmd->add_option("--allow-host", options->allowed_hosts,
                  "Also answer HTTP requests whose Host is NAME (repeatable)")
      ->check(check_allowed_host);
  cmd->add_option("--name", options->name, "A readable name (default: the directory's name)");
  cmd->add_option("--up-limit", options->up_limit,
                  "Upload rate limit, e.g. 500KiB, 8MiB (0 = none)")
      ->check(check_rate)
      ->capture_default_str();
  cmd->add_option("--down-limit", options->down_limit, "Download rate limit (0 = none)")
      ->check(check_rate)
      ->capture_default_str();
  // Each peer is a socket: run_node raises the soft RLIMIT_NOFILE to the hard limit.
  cmd->add_option("--max-peers", options->max_peers,
                  "Most established peer connections at once (others are turned away)")
      ->check(CLI::Range(std::size_t{1}, max_peers_limit))
      ->capture_default_str();
  cmd->add_flag("--trace", options->trace,
                "Log every protocol message sent and received (also on the dashboard)");
  cmd->add_option("--log-level", options->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->callback([options, &exit_code] { exit_code = run_node(*options); });
}

}  // namespace peerlab::cli

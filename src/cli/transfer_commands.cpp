// `peerlab share`, `peerlab get` and `peerlab files`: moving files through a
// running node. The node does the work (hashing, the swarm, verification);
// the CLI asks for it over the HTTP API and, for `get`, follows the transfer.

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/progress.hpp"

namespace peerlab::cli {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Hashing a multi-gigabyte file happens before the node answers `share`.
constexpr auto share_timeout = std::chrono::hours(1);
constexpr auto get_request_timeout = std::chrono::seconds(60);
constexpr auto poll_interval = 200ms;
constexpr auto plain_line_interval = 1s;
// How long `get` keeps asking a node that does not answer before giving up.
constexpr auto node_silence_limit = 15s;
constexpr std::size_t min_id_prefix_chars = 8;
constexpr std::size_t id_chars = 64;

// A content id or a prefix of one, lowercased; empty if it cannot be one.
std::string normalize_id(std::string id) {
  std::transform(id.begin(), id.end(), id.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool hex = std::all_of(id.begin(), id.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
  });
  return hex && id.size() >= min_id_prefix_chars && id.size() <= id_chars ? id : "";
}

// ------------------------------------------------------------------ share

struct share_options {
  target_options target;
  std::string path;
};

int run_share(const share_options& options) {
  std::error_code ec;
  // The node resolves nothing: it gets the path as this shell sees it.
  const auto path = fs::absolute(options.path, ec).lexically_normal();
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return fail("cannot share " + options.path + ": no such file");
  if (!fs::is_regular_file(status) && !fs::is_directory(status)) {
    return fail("cannot share " + options.path + ": it is not a regular file or a folder");
  }
  auto target = find_node(options.target);
  if (!target) return fail(target.error_message());
  auto answer = api_post(*target, "/api/share", {{"path", path.string()}}, share_timeout);
  if (!answer) return fail(answer.error_message());
  if (!answer->is_object() || !(*answer)["id"].is_string()) {
    return fail("the node's answer to /api/share has no content id");
  }
  std::cout << (*answer)["id"].get<std::string>() << "\n";  // alone, for $(peerlab share ...)
  return 0;
}

// ------------------------------------------------------------------ get

struct get_options {
  target_options target;
  std::string id;
  std::string output;
  std::vector<std::string> only;  // a folder's files and subfolders
  bool quiet = false;
};

enum class display_mode { quiet, bar, plain };

// Fields read leniently: a missing or null number reads as 0 (or nothing).
std::optional<double> number(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::uint64_t count(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string text(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

transfer_progress to_progress(const json& t) {
  transfer_progress p;
  p.id = text(t, "id");
  p.name = text(t, "name");
  p.state = text(t, "state");
  p.bytes_done = count(t, "bytes_done");
  p.size = count(t, "size");
  p.rate = number(t, "rate").value_or(0);
  p.peers = static_cast<int>(count(t, "peers"));
  p.eta_seconds = number(t, "eta_seconds");
  return p;
}

// Peers that delivered at least one chunk, with how many.
std::vector<std::pair<std::string, std::uint64_t>> sources(const json& t) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  if (!t.contains("sources") || !t["sources"].is_object()) return out;
  for (const auto& [peer, chunks] : t["sources"].items()) {
    if (chunks.is_number_unsigned() && chunks.get<std::uint64_t>() > 0)
      out.emplace_back(peer, chunks.get<std::uint64_t>());
  }
  return out;
}

// Draws progress on stderr: a bar redrawn in place on a terminal, a plain line
// at most once a second otherwise. stdout stays clean for scripts.
class progress_display {
 public:
  explicit progress_display(display_mode mode) : mode_(mode) {}

  void update(const transfer_progress& p) {
    if (mode_ == display_mode::bar) {
      redraw(progress_bar_line(p));
    } else if (mode_ == display_mode::plain) {
      const auto now = std::chrono::steady_clock::now();
      const auto line = progress_plain_line(p);
      if (line == last_plain_ || (printed_plain_ && now - last_plain_at_ < plain_line_interval))
        return;
      std::fprintf(stderr, "%s\n", line.c_str());
      last_plain_ = line;
      last_plain_at_ = now;
      printed_plain_ = true;
    }
  }

  // The final state, then the summary lines.
  void finish(const transfer_progress& p, const std::vector<std::string>& summary) {
    if (mode_ == display_mode::quiet) return;
    if (mode_ == display_mode::bar) {
      redraw(progress_bar_line(p));
      end_line();
    } else if (progress_plain_line(p) != last_plain_) {
      std::fprintf(stderr, "%s\n", progress_plain_line(p).c_str());
    }
    for (const auto& line : summary)
      std::fprintf(stderr, "%s\n", line.c_str());
  }

  // Before an error sentence: leave the bar's line so the sentence stands alone.
  void end_line() {
    if (drawn_) std::fputs("\n", stderr);
    drawn_ = false;
  }

 private:
  void redraw(std::string line) {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 &&
        line.size() >= size.ws_col) {
      line.resize(size.ws_col - 1);  // a wrapped line could not be redrawn with \r
    }
    std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  display_mode mode_;
  bool drawn_ = false;
  bool printed_plain_ = false;
  std::string last_plain_;
  std::chrono::steady_clock::time_point last_plain_at_{};
};

// The POST /api/get body: which file, and where it goes (as this shell sees it).
json get_request(const get_options& options, const std::string& id) {
  const auto cwd = fs::current_path();
  json body = {{"id", id}, {"output", nullptr}, {"directory", cwd.string()}};
  if (!options.only.empty()) body["only"] = options.only;
  if (!options.output.empty()) {
    std::error_code ec;
    const auto out = fs::absolute(options.output, ec).lexically_normal();
    if (fs::is_directory(out, ec)) {
      body["directory"] = out.string();  // like cp: into that directory, under the file's name
    } else {
      body["output"] = out.string();
    }
  }
  return body;
}

// Follows GET /api/transfers/ID until the node reports the end; the node does
// the work, so this loop only draws and decides the exit code. Each request
// asks the node to answer early if the transfer ends (?wait=), so the command
// exits the moment the file is in place, and redraws at the poll interval.
int follow_transfer(const api_target& target, const std::string& id, progress_display& display,
                    std::chrono::steady_clock::time_point started) {
  const auto path = "/api/transfers/" + id +
                    "?wait=" + std::to_string(std::chrono::milliseconds(poll_interval).count());
  auto last_answer = std::chrono::steady_clock::now();
  for (;;) {
    const auto asked = std::chrono::steady_clock::now();
    auto answer = api_get(target, path);
    const auto now = std::chrono::steady_clock::now();
    // Never faster than the poll interval, whatever the node does with ?wait.
    const auto pace = [&] { std::this_thread::sleep_until(asked + poll_interval); };
    if (!answer || !answer->is_object()) {
      // A busy node may miss a poll; a node that stays silent is gone.
      if (now - last_answer < node_silence_limit) {
        pace();
        continue;
      }
      display.end_line();
      return fail(answer ? "the node sent a malformed transfer for " + id : answer.error_message());
    }
    last_answer = now;
    const auto& t = *answer;
    const auto progress = to_progress(t);
    if (progress.state == "failed") {
      display.end_line();
      const auto why = text(t, "error");
      return fail(why.empty() ? "the download of " + id + " failed" : why);
    }
    if (progress.state != "complete") {
      display.update(progress);
      pace();
      continue;
    }
    const auto seconds = std::chrono::duration<double>(now - started).count();
    const auto from = sources(t);
    std::vector<std::string> summary{transfer_summary(progress.name, progress.size, seconds,
                                                      static_cast<int>(from.size()),
                                                      count(t, "chunks_resumed"))};
    if (!from.empty()) summary.push_back(sources_line(from));  // who sent what, for the class
    display.finish(progress, summary);
    return 0;
  }
}

int run_get(const get_options& options) {
  // A file named on the command line is a .torrent: the node reads it.
  std::error_code ec;
  const bool torrent = fs::is_regular_file(options.id, ec);
  const bool magnet = options.id.starts_with("magnet:");
  const auto id = torrent ? std::string() : magnet ? options.id : normalize_id(options.id);
  if (!torrent && id.empty()) {
    return fail("'" + options.id + "' is not a content id nor a .torrent file: give its 64 hex " +
                "characters or a unique prefix of at least " + std::to_string(min_id_prefix_chars));
  }
  auto target = find_node(options.target);
  if (!target) return fail(target.error_message());

  auto body = get_request(options, id);
  if (torrent) {
    body.erase("id");
    body["torrent_file"] = fs::absolute(options.id, ec).lexically_normal().string();
  }
  const auto started = std::chrono::steady_clock::now();
  auto accepted = api_post(*target, "/api/get", body, get_request_timeout);
  if (!accepted) return fail(accepted.error_message());
  if (!accepted->is_object() || !(*accepted)["id"].is_string()) {
    return fail("the node's answer to /api/get has no content id");
  }
  progress_display display(options.quiet             ? display_mode::quiet
                           : ::isatty(STDERR_FILENO) ? display_mode::bar
                                                     : display_mode::plain);
  return follow_transfer(*target, (*accepted)["id"].get<std::string>(), display, started);
}

// ------------------------------------------------------------------ files

void print_files(const json& files) {
  if (files.empty()) {
    std::cout << "no files shared in the network yet (share one with: peerlab share PATH)\n";
    return;
  }
  table t({"ID", "NAME", "SIZE", "HOLDERS", "LOCAL"});
  for (const auto& f : files) {
    const auto local = f.contains("local") && f["local"].is_string() ? text(f, "local") : "-";
    const bool folder = f.contains("folder") && f["folder"].is_boolean() && f["folder"].get<bool>();
    t.add({text(f, "id").substr(0, 12), text(f, "name") + (folder ? "/" : ""),
           human_bytes(static_cast<double>(count(f, "size"))), std::to_string(count(f, "holders")),
           local});
  }
  t.print(std::cout);
}

// `peerlab files ID`: a folder's entries, one a line, and whether each is here.
int run_folder_listing(const api_target& target, const std::string& id, bool as_json) {
  auto answer = api_get(target, "/api/folders/" + id);
  if (!answer) return fail(answer.error_message());
  if (!answer->is_object() || !(*answer)["entries"].is_array())
    return fail("the node's answer to /api/folders is not a folder");
  if (as_json) {
    std::cout << answer->dump(2) << "\n";
    return 0;
  }
  const auto& f = *answer;
  std::cout << text(f, "name") << "/  " << count(f, "files") << " files, "
            << human_bytes(static_cast<double>(count(f, "size"))) << "  (" << text(f, "id")
            << ")\n";
  table t({"PATH", "SIZE", "ID", "LOCAL"});
  for (const auto& e : f["entries"]) {
    const bool file = text(e, "kind") == "file";
    const auto local = e.contains("local") && e["local"].is_boolean() && e["local"].get<bool>();
    t.add({text(e, "path") + (file ? "" : "/"),
           file ? human_bytes(static_cast<double>(count(e, "size"))) : "-",
           file ? text(e, "id").substr(0, 12) : "-", file ? (local ? "yes" : "no") : "-"});
  }
  t.print(std::cout);
  return 0;
}

int run_files(const target_options& options, const std::string& folder) {
  auto target = find_node(options);
  if (!target) return fail(target.error_message());
  if (!folder.empty()) {
    const auto id = normalize_id(folder);
    if (id.empty()) return fail("'" + folder + "' is not a content id");
    return run_folder_listing(*target, id, options.json);
  }
  auto answer = api_get(*target, "/api/files");
  if (!answer) return fail(answer.error_message());
  if (!answer->is_array()) return fail("the node's answer to /api/files is not a list");
  if (options.json) {
    std::cout << answer->dump(2) << "\n";
  } else {
    print_files(*answer);
  }
  return 0;
}

}  // namespace

void add_transfer_commands(CLI::App& app, int& exit_code) {
  auto share = std::make_shared<share_options>();
  auto* share_cmd = app.add_subcommand("share", "Share a file or a folder; prints its content id");
  share_cmd
      ->add_option("path", share->path, "The file or folder to share (read in place, never copied)")
      ->required();
  add_target_options(*share_cmd, share->target);
  share_cmd->callback([share, &exit_code] { exit_code = run_share(*share); });

  auto get = std::make_shared<get_options>();
  auto* get_cmd = app.add_subcommand(
      "get", "Download a file from the swarm (or a BitTorrent swarm) and verify it");
  get_cmd
      ->add_option("id", get->id,
                   "Content id (or a unique prefix of at least 8 characters), or a .torrent file")
      ->required();
  get_cmd->add_option("-o,--output", get->output,
                      "Where to write it: a file, or a directory for NAME (default: ./NAME)");
  get_cmd->add_option("--only", get->only,
                      "For a folder or a multi-file torrent: only this file or subfolder (a path "
                      "inside it; repeatable)");
  get_cmd->add_flag("-q,--quiet", get->quiet, "Show no progress");
  add_target_options(*get_cmd, get->target);
  get_cmd->callback([get, &exit_code] { exit_code = run_get(*get); });

  auto files = std::make_shared<target_options>();
  auto folder = std::make_shared<std::string>();
  auto* files_cmd =
      app.add_subcommand("files", "List the files the network shares, or (with ID) a folder's");
  files_cmd->add_option("id", *folder, "A folder's content id (or a unique prefix)");
  add_target_options(*files_cmd, *files);
  files_cmd->add_flag("--json", files->json, "Machine-readable output");
  files_cmd->callback([files, folder, &exit_code] { exit_code = run_files(*files, *folder); });
}

}  // namespace peerlab::cli

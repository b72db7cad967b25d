#include "cli/progress.hpp"

#include <algorithm>
#include <cstdio>

#include "cli/format.hpp"

namespace peerlab::cli {

namespace {

int percent(const transfer_progress& p) {
  if (p.size == 0) return p.state == "complete" ? 100 : 0;
  return static_cast<int>(std::min<std::uint64_t>(p.bytes_done, p.size) * 100 / p.size);
}

std::string peers_text(int peers) {
  return std::to_string(peers) + (peers == 1 ? " peer" : " peers");
}

std::string eta_text(const transfer_progress& p) {
  if (p.state == "complete") return "done";
  if (!p.eta_seconds || *p.eta_seconds < 0) return "ETA --";
  return "ETA " + human_duration(*p.eta_seconds);
}

// Before the first chunk there are no numbers worth a bar yet.
bool looking_for_holders(const transfer_progress& p) {
  return p.state == "manifest";
}

std::string holders_line(const transfer_progress& p) {
  return "looking for peers that hold " + (p.name.empty() ? p.id.substr(0, 12) : p.name) + "...";
}

}  // namespace

std::string bytes_fraction(std::uint64_t done, std::uint64_t total) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double scale = 1;
  while (static_cast<double>(total) / scale >= 1024 && unit < 4) {
    scale *= 1024;
    ++unit;
  }
  char text[64];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f/%.0f %s" : "%.1f/%.1f %s",
                static_cast<double>(done) / scale, static_cast<double>(total) / scale, units[unit]);
  return text;
}

std::string progress_bar_line(const transfer_progress& p, int bar_width) {
  if (looking_for_holders(p)) return holders_line(p);
  const int pct = percent(p);
  const int filled = pct * bar_width / 100;
  char head[16];
  std::snprintf(head, sizeof head, "] %3d%%  ", pct);
  return "[" + std::string(filled, '#') + std::string(bar_width - filled, '-') + head +
         bytes_fraction(p.bytes_done, p.size) + "  " + human_bytes(p.rate) + "/s  " +
         peers_text(p.peers) + "  " + eta_text(p);
}

std::string progress_plain_line(const transfer_progress& p) {
  if (looking_for_holders(p)) return holders_line(p);
  return p.name + ": " + std::to_string(percent(p)) + "% (" + bytes_fraction(p.bytes_done, p.size) +
         ") at " + human_bytes(p.rate) + "/s from " + peers_text(p.peers) + ", " + eta_text(p);
}

std::string transfer_summary(const std::string& name, std::uint64_t size, double seconds,
                             int source_peers, std::uint64_t chunks_resumed) {
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", seconds);
  std::string line = "got " + name + " (" + human_bytes(static_cast<double>(size)) + ") in " +
                     took + " from " + peers_text(source_peers);
  if (chunks_resumed > 0) {
    line += " (" + std::to_string(chunks_resumed) + " chunks were already on disk)";
  }
  return line;
}

std::string sources_line(std::vector<std::pair<std::string, std::uint64_t>> chunks_by_peer) {
  std::stable_sort(chunks_by_peer.begin(), chunks_by_peer.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string line = "chunks from";
  for (std::size_t i = 0; i < chunks_by_peer.size(); ++i) {
    line += (i == 0 ? " " : ", ") + chunks_by_peer[i].first + " " +
            std::to_string(chunks_by_peer[i].second);
  }
  return line;
}

}  // namespace peerlab::cli

#pragma once
// What `peerlab get` shows while a download runs: pure formatting from the
// transfer's numbers to one line, so it can be checked without a terminal.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace peerlab::cli {

// The numbers of GET /api/transfers/ID that the progress display needs.
struct transfer_progress {
  std::string id;
  std::string name;   // unknown ("") until the manifest arrives
  std::string state;  // "manifest", "downloading", "complete" or "failed"
  std::uint64_t bytes_done = 0;
  std::uint64_t size = 0;
  double rate = 0;  // bytes per second
  int peers = 0;    // peers delivering right now
  std::optional<double> eta_seconds;
};

constexpr int progress_bar_width = 20;

// For a terminal, redrawn in place:
// "[#########-----------]  45%  28.8/64.0 MiB  12.3 MiB/s  3 peers  ETA 3 s"
std::string progress_bar_line(const transfer_progress& p, int bar_width = progress_bar_width);

// For a log or a pipe, one line now and then:
// "NAME: 45% (28.8/64.0 MiB) at 12.3 MiB/s from 3 peers, ETA 3 s"
std::string progress_plain_line(const transfer_progress& p);

// The last line: "got NAME (64.0 MiB) in 5.2 s from 3 peers".
std::string transfer_summary(const std::string& name, std::uint64_t size, double seconds,
                             int source_peers, std::uint64_t chunks_resumed);

// Who sent what, most first: "chunks from bob 120, carol 100, alice 36".
std::string sources_line(std::vector<std::pair<std::string, std::uint64_t>> chunks_by_peer);

// "28.8/64.0 MiB": both counts in the unit that suits the total.
std::string bytes_fraction(std::uint64_t done, std::uint64_t total);

}  // namespace peerlab::cli

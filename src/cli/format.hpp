#pragma once
// Human-readable output: aligned tables, byte counts and durations, and the
// one sentence a failed command prints.

#include <ostream>
#include <string>
#include <vector>

namespace peerlab::cli {

std::string human_bytes(double bytes);       // "1.5 MiB"
std::string human_duration(double seconds);  // "1h 02m", "3m 10s", "12 s"

// Prints "peerlab: SENTENCE" on stderr; returns 1, a failed command's exit code.
int fail(const std::string& sentence);

class table {
 public:
  explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace peerlab::cli

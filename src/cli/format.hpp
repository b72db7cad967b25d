#pragma once
// Human-readable output: aligned tables, byte counts and durations.

#include <ostream>
#include <string>
#include <vector>

namespace peerlab::cli {

std::string human_bytes(double bytes);       // "1.5 MiB"
std::string human_duration(double seconds);  // "1h 02m", "3m 10s", "12 s"

class table {
 public:
  explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace peerlab::cli

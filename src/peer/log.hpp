#pragma once
// One line per event on stderr: "2026-11-27T09:30:18.123Z info  accepted 127.0.0.2:7070 <- ...".
// Usage: log_line(log_level::info) << "accepted " << tuple;

#include <sstream>
#include <string_view>

namespace peerlab::peer {

enum class log_level { debug, info, warn, error };

void set_log_level(log_level level);
bool log_enabled(log_level level);
// "debug" | "info" | "warn" | "error"; false if the text is none of them.
bool parse_log_level(std::string_view text, log_level& out);

// Collects one line and writes it, whole, when destroyed.
class log_line {
 public:
  explicit log_line(log_level level);
  ~log_line();
  log_line(const log_line&) = delete;
  log_line& operator=(const log_line&) = delete;

  template <class T>
  log_line& operator<<(const T& value) {
    if (enabled_) text_ << value;
    return *this;
  }

 private:
  bool enabled_;
  std::ostringstream text_;
};

}  // namespace peerlab::peer

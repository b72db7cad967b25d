#include "peer/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace peerlab::peer {

namespace {
std::atomic<log_level> current_level{log_level::info};

const char* level_name(log_level level) {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info ";
    case log_level::warn:
      return "warn ";
    case log_level::error:
      return "error";
  }
  return "?    ";
}
}  // namespace

void set_log_level(log_level level) {
  current_level = level;
}
bool log_enabled(log_level level) {
  return level >= current_level.load();
}

bool parse_log_level(std::string_view text, log_level& out) {
  if (text == "debug")
    out = log_level::debug;
  else if (text == "info")
    out = log_level::info;
  else if (text == "warn")
    out = log_level::warn;
  else if (text == "error")
    out = log_level::error;
  else
    return false;
  return true;
}

log_line::log_line(log_level level) : enabled_(log_enabled(level)) {
  if (!enabled_) return;
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  char millis_text[8];
  std::snprintf(millis_text, sizeof millis_text, ".%03dZ ", static_cast<int>(millis));
  text_ << stamp << millis_text << level_name(level) << ' ';
}

log_line::~log_line() {
  if (!enabled_) return;
  text_ << '\n';
  const auto line = text_.str();
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace peerlab::peer

#pragma once
// Small text helpers for HTTP, whose header names, host names and some
// values compare without regard to case and may be padded with whitespace.

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace peerlab::http {

// Without the spaces and tabs around it (RFC 9110's "OWS").
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

inline char to_lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = to_lower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

}  // namespace peerlab::http

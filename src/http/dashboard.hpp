#pragma once
// The live dashboard served at GET /: one self-contained HTML page (inline
// CSS and JS, no external resources) that polls the JSON API once a second.
// The page lives in src/http/dashboard.html; CMake compiles it into the
// binary (dashboard.cpp.in), so the program needs no files at run time.

#include <string_view>

namespace peerlab::http {

// The whole page, UTF-8; valid for the life of the program.
std::string_view dashboard_page();

}  // namespace peerlab::http

#pragma once
// The Range request header (RFC 9110 §14), for one representation of `size`
// bytes. Pure: a string and a size in, a decision out. We serve a single
// byte range; a header we cannot or need not honour (another unit, several
// ranges, bad syntax) is ignored and the whole file is sent, as the RFC
// allows.

#include <cstdint>
#include <string_view>

namespace peerlab::http {

struct byte_range {
  enum class kind {
    whole,          // no usable Range: 200 with every byte
    partial,        // 206 with bytes first..last (inclusive)
    unsatisfiable,  // 416 with Content-Range: bytes */size
  };
  kind what = kind::whole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;

  std::uint64_t length() const { return last - first + 1; }
};

byte_range parse_range(std::string_view header, std::uint64_t size);

}  // namespace peerlab::http

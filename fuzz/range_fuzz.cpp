// Range header parser: the value of a Range header, tried against files of
// several sizes (empty, tiny, 4 GiB, the largest uint64). Checks: a partial
// range lies inside the file; whether a header is ignored (whole file) does
// not depend on the file's size; a range that is unsatisfiable for a file
// stays so for every smaller one; a range that is partial for a file stays
// partial for every larger one, and no shorter.

#include <cstdint>
#include <limits>
#include <string_view>

#include "fuzz_check.hpp"
#include "fuzz_targets.hpp"
#include "http/range.hpp"

namespace peerlab::fuzz {

int fuzz_range(const std::uint8_t* data, std::size_t size) {
  using http::byte_range;
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  // Ascending, so each one can be compared with the one before.
  constexpr std::uint64_t sizes[] = {0, 1, 2, 10, 1000, std::uint64_t{1} << 32, max - 1, max};

  byte_range previous;
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    const auto file_size = sizes[i];
    const auto r = http::parse_range(header, file_size);
    if (r.what == byte_range::kind::partial) {
      FUZZ_CHECK(r.first <= r.last && r.last < file_size);
      FUZZ_CHECK(r.length() >= 1 && r.length() <= file_size);
    }
    if (i == 0) {
      previous = r;
      continue;
    }
    FUZZ_CHECK((r.what == byte_range::kind::whole) == (previous.what == byte_range::kind::whole));
    if (r.what == byte_range::kind::unsatisfiable)
      FUZZ_CHECK(previous.what == byte_range::kind::unsatisfiable);
    if (previous.what == byte_range::kind::partial) {
      FUZZ_CHECK(r.what == byte_range::kind::partial);
      FUZZ_CHECK(r.length() >= previous.length());
    }
    previous = r;
  }
  return 0;
}

}  // namespace peerlab::fuzz

// The Range header (RFC 9110 §14): which bytes, or the whole file, or 416.

#include "http/range.hpp"

#include <gtest/gtest.h>

namespace peerlab::http {
namespace {

using kind = byte_range::kind;

TEST(Range, SingleRangesInEveryForm) {
  auto r = parse_range("bytes=0-0", 100);
  EXPECT_EQ(r.what, kind::partial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length(), 1u);

  r = parse_range("bytes=10-", 100);
  EXPECT_EQ(r.first, 10u);
  EXPECT_EQ(r.last, 99u);

  r = parse_range("bytes=-1", 100);
  EXPECT_EQ(r.first, 99u);
  EXPECT_EQ(r.last, 99u);

  r = parse_range("Bytes = 5-9 ", 100);  // unit is case-insensitive, spaces tolerated
  EXPECT_EQ(r.what, kind::partial);
  EXPECT_EQ(r.length(), 5u);
}

TEST(Range, EndsPastTheFileAreClamped) {
  auto r = parse_range("bytes=90-1000", 100);
  EXPECT_EQ(r.last, 99u);
  r = parse_range("bytes=-1000", 100);  // more than the file: all of it
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 99u);
  r = parse_range("bytes=0-99999999999999999999999999", 100);  // saturates, no overflow
  EXPECT_EQ(r.what, kind::partial);
  EXPECT_EQ(r.last, 99u);
}

TEST(Range, UnsatisfiableRangesAre416) {
  EXPECT_EQ(parse_range("bytes=100-", 100).what, kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=100-200", 100).what, kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 100).what, kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-0", 0).what, kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100).what, kind::unsatisfiable);
}

TEST(Range, WhatWeDoNotHonourIsIgnored) {
  for (const auto* header :
       {"", "bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=5-2", "bytes=1-2-3", "bytes=+1-2",
        "bytes=0x10-", "items=0-1", "bytes=0-0,5-9", "bytes=0-0,0-0,0-0", "bytes=- 5"}) {
    EXPECT_EQ(parse_range(header, 100).what, kind::whole) << header;
  }
}

}  // namespace
}  // namespace peerlab::http

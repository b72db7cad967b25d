// Bencoding: canonical encoding, a decoder that refuses every non-canonical
// or hostile input within its budgets, and the byte span of a decoded value.

#include "protocol/bencode.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace peerlab::protocol::bt {
namespace {

std::string_view text(const std::vector<std::uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(Bencode, EncodesEveryKindAsBep3Shows) {
  EXPECT_EQ(bencode_string(bvalue(42)), "i42e");
  EXPECT_EQ(bencode_string(bvalue(-3)), "i-3e");
  EXPECT_EQ(bencode_string(bvalue(0)), "i0e");
  EXPECT_EQ(bencode_string(bvalue("spam")), "4:spam");
  EXPECT_EQ(bencode_string(bvalue("")), "0:");
  EXPECT_EQ(bencode_string(bvalue(bvalue::list{"spam", "eggs"})), "l4:spam4:eggse");
  auto d = bvalue::make_dict();
  d.set("spam", bvalue::list{"a", "b"});
  d.set("cow", "moo");
  EXPECT_EQ(bencode_string(d), "d3:cow3:moo4:spaml1:a1:bee");
}

TEST(Bencode, EncodesTheExtremeIntegers) {
  EXPECT_EQ(bencode_string(bvalue(INT64_MAX)), "i9223372036854775807e");
  EXPECT_EQ(bencode_string(bvalue(INT64_MIN)), "i-9223372036854775808e");
  EXPECT_EQ(bdecode(std::string_view("i-9223372036854775808e"))->as_int(), INT64_MIN);
  EXPECT_EQ(bdecode(std::string_view("i9223372036854775807e"))->as_int(), INT64_MAX);
}

TEST(Bencode, WritesADictBuiltOutOfOrderSorted) {
  bvalue d(bvalue::dict{{"zebra", 1}, {"apple", 2}, {"mango", 3}});
  EXPECT_EQ(bencode_string(d), "d5:applei2e5:mangoi3e5:zebrai1ee");
  EXPECT_EQ(d.find("apple")->as_int(), 2);  // sorted when built
  EXPECT_EQ(d.as_dict().front().first, "apple");
  const bvalue twice(bvalue::dict{{"a", 1}, {"a", 2}});
  ASSERT_EQ(twice.as_dict().size(), 1u);
  EXPECT_EQ(twice.find_int("a")->as_int(), 1);  // the first of equal keys stays
}

TEST(Bencode, SortsKeysAsRawBytesNotAsSignedChars) {
  auto d = bvalue::make_dict();
  d.set("\xff", 1);
  d.set("a", 2);
  EXPECT_EQ(bencode_string(d), "d1:ai2e1:\xffi1ee");
  EXPECT_TRUE(bdecode(std::string_view("d1:ai2e1:\xffi1ee")).ok());
  EXPECT_FALSE(bdecode(std::string_view("d1:\xffi1e1:ai2ee")).ok());
}

TEST(Bencode, RoundTripsNestedValuesByteForByte) {
  const std::string_view input = "d4:infod5:filesld1:xi-1eee6:lengthi5e4:name1:ae1:zli0el0:eee";
  const auto decoded = bdecode(input);
  ASSERT_TRUE(decoded.ok()) << decoded.error_message();
  EXPECT_EQ(bencode_string(*decoded), input);
}

TEST(Bencode, RefusesNonCanonicalIntegers) {
  for (const auto* bad :
       {"i-0e", "i03e", "i00e", "ie", "i-e", "i+1e", "i 1e", "i1", "i1.5e", "i9223372036854775808e",
        "i-9223372036854775809e", "i99999999999999999999999e"}) {
    EXPECT_FALSE(bdecode(std::string_view(bad)).ok()) << bad;
  }
}

TEST(Bencode, RefusesNonCanonicalOrTruncatedStrings) {
  for (const auto* bad :
       {"03:abc", "00:", "5:abcd", "4abcd", "-1:a", "1:", ":", "99999999999999999999:a"}) {
    EXPECT_FALSE(bdecode(std::string_view(bad)).ok()) << bad;
  }
}

TEST(Bencode, RefusesUnsortedOrDuplicateKeys) {
  const auto unsorted = bdecode(std::string_view("d1:bi1e1:ai2ee"));
  ASSERT_FALSE(unsorted.ok());
  EXPECT_NE(unsorted.error_message().find("out of order"), std::string::npos);
  const auto duplicate = bdecode(std::string_view("d1:ai1e1:ai2ee"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error_message().find("duplicate"), std::string::npos);
  EXPECT_FALSE(bdecode(std::string_view("di1ei2ee")).ok());  // a key must be a string
}

TEST(Bencode, RefusesTrailingBytesAndUnterminatedContainers) {
  for (const auto* bad : {"i1ei2e", "le ", "l", "d", "li1e", "d1:a", "d1:ai1e", "", "e", "x"}) {
    EXPECT_FALSE(bdecode(std::string_view(bad)).ok()) << bad;
  }
}

TEST(Bencode, PrefixDecodeStopsAfterOneValueAndSaysWhere) {
  const std::string_view input = "d1:ai1eeRAW DATA";
  const auto prefix =
      bdecode_prefix({reinterpret_cast<const std::uint8_t*>(input.data()), input.size()});
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->consumed, 8u);
}

TEST(Bencode, KeepsTheByteSpanOfEveryDecodedValue) {
  // The info-hash is taken over the info dictionary's exact bytes.
  const std::string_view input = "d8:announce3:url4:infod6:lengthi1e4:name1:aee";
  const auto root = bdecode(input);
  ASSERT_TRUE(root.ok());
  const auto* info = root->find_dict("info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(input.substr(info->source_offset(), info->source_length()), "d6:lengthi1e4:name1:ae");
  const auto* url = root->find_string("announce");
  EXPECT_EQ(input.substr(url->source_offset(), url->source_length()), "3:url");
}

TEST(Bencode, RefusesNestingDeeperThanTheBudget) {
  bdecode_limits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(bdecode(std::string_view("lllleeee"), limits).ok());
  const auto deep = bdecode(std::string_view("llllleeeee"), limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error_message().find("deeper"), std::string::npos);
}

TEST(Bencode, SurvivesABombOfNestedListsWithinTheDefaultBudget) {
  // 100 000 nested lists: refused at depth 32, not a stack overflow.
  const std::string bomb = std::string(100'000, 'l') + std::string(100'000, 'e');
  const auto decoded = bdecode(bomb);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error_message().find("deeper than 32"), std::string::npos);
}

TEST(Bencode, RefusesMoreTokensThanTheBudget) {
  bdecode_limits limits;
  limits.max_tokens = 10;
  std::string list = "l";
  for (int i = 0; i < 9; ++i)
    list += "i0e";
  list += "e";
  EXPECT_TRUE(bdecode(list, limits).ok());  // 1 list + 9 integers
  list.insert(1, "i0e");
  const auto over = bdecode(list, limits);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error_message().find("more than 10 values"), std::string::npos);
}

TEST(Bencode, RefusesInputAboveTheSizeBudgetBeforeReadingIt) {
  bdecode_limits limits;
  limits.max_input_bytes = 8;
  EXPECT_TRUE(bdecode(std::string_view("4:spam"), limits).ok());
  EXPECT_FALSE(bdecode(std::string_view("9:spamspams"), limits).ok());
}

TEST(Bencode, StringLengthBeyondTheInputCostsNothing) {
  const auto decoded = bdecode(std::string_view("4294967296:abc"));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error_message().find("longer than the input"), std::string::npos);
}

TEST(Bencode, SetKeepsKeysSortedAndReplaces) {
  auto d = bvalue::make_dict();
  d.set("b", 1);
  d.set("a", 2);
  d.set("b", 3);
  ASSERT_EQ(d.as_dict().size(), 2u);
  EXPECT_EQ(d.as_dict()[0].first, "a");
  EXPECT_EQ(d.find_int("b")->as_int(), 3);
  EXPECT_EQ(d.find_string("b"), nullptr);
  EXPECT_EQ(d.find("c"), nullptr);
  EXPECT_EQ(bvalue(1).find("a"), nullptr);
  EXPECT_EQ(text(bencode(d)), "d1:ai2e1:bi3ee");
}

}  // namespace
}  // namespace peerlab::protocol::bt

#include "common/text/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace kubemetrics::text {
namespace {

TEST(Utf8Test, SequenceLengths) {
  EXPECT_EQ(utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(utf8SequenceLength("\xc3\xa9", 0), 2u);          // é
  EXPECT_EQ(utf8SequenceLength("\xe2\x82\xac", 0), 3u);      // €
  EXPECT_EQ(utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);  // 😀
}

TEST(Utf8Test, RejectsWhatRfc3629Forbids) {
  EXPECT_EQ(utf8SequenceLength("\x80", 0), 0u);              // stray continuation
  EXPECT_EQ(utf8SequenceLength("\xc0\xaf", 0), 0u);          // overlong '/'
  EXPECT_EQ(utf8SequenceLength("\xe0\x80\xaf", 0), 0u);      // overlong, 3 bytes
  EXPECT_EQ(utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // surrogate U+D800
  EXPECT_EQ(utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // beyond U+10FFFF
  EXPECT_EQ(utf8SequenceLength("\xe2\x82", 0), 0u);          // cut short
  EXPECT_EQ(utf8SequenceLength("\xf5\x80\x80\x80", 0), 0u);  // no such lead byte
}

TEST(Utf8Test, ValidatesWholeText) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ascii text, longer than one word"));
  EXPECT_TRUE(isValidUtf8("caf\xc3\xa9 \xe2\x82\xac 12"));
  EXPECT_FALSE(isValidUtf8("0123456789abcdef\xff"));  // after the 8-byte fast path
  EXPECT_FALSE(isValidUtf8("\xc3"));
}

TEST(Utf8Test, AsciiCheckCoversTheTail) {
  EXPECT_TRUE(isAscii(""));
  EXPECT_TRUE(isAscii("abc"));
  EXPECT_TRUE(isAscii("0123456789abc"));
  EXPECT_FALSE(isAscii("0123456789ab\xc3\xa9"));  // only in the overlapping tail word
  EXPECT_FALSE(isAscii("\xc3\xa9"));
}

TEST(Utf8Test, ReplacesInvalidBytesWithReplacementCharacter) {
  std::string scratch;
  const std::string valid = "caf\xc3\xa9";
  EXPECT_EQ(toValidUtf8(valid, scratch).data(), valid.data());  // no copy when valid
  EXPECT_EQ(toValidUtf8("a\xff"
                        "b\xc3",
                        scratch),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
}

TEST(Utf8Test, CountsCodePoints) {
  EXPECT_EQ(codePointCount(""), 0u);
  EXPECT_EQ(codePointCount("caf\xc3\xa9"), 4u);
  EXPECT_EQ(codePointCount("\xf0\x9f\x98\x80!"), 2u);
}

}  // namespace
}  // namespace kubemetrics::text

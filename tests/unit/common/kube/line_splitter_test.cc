#include "common/kube/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kubemetrics::kube {
namespace {

struct Collector {
  std::vector<std::string> lines;
  LineSplitter::LineHandler handler() {
    return [this](std::string_view line) -> Result<void> {
      lines.emplace_back(line);
      return {};
    };
  }
};

TEST(LineSplitterTest, SeveralLinesInOneChunk) {
  LineSplitter splitter;
  Collector c;
  ASSERT_TRUE(splitter.feed("{\"a\":1}\n{\"b\":2}\n", c.handler()));
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(splitter.pending(), 0u);
}

TEST(LineSplitterTest, LineSpanningChunks) {
  LineSplitter splitter;
  Collector c;
  const std::string event = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p\"}}}\n";
  // Byte by byte: the worst split there is.
  for (char ch : event) ASSERT_TRUE(splitter.feed(std::string_view(&ch, 1), c.handler()));
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0] + "\n", event);
}

TEST(LineSplitterTest, TailOfOneLineAndHeadOfTheNext) {
  LineSplitter splitter;
  Collector c;
  ASSERT_TRUE(splitter.feed("{\"a\"", c.handler()));
  ASSERT_TRUE(splitter.feed(":1}\n{\"b\"", c.handler()));
  EXPECT_EQ(c.lines, std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(splitter.pending(), 4u);
  ASSERT_TRUE(splitter.feed(":2}\n", c.handler()));
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

TEST(LineSplitterTest, SkipsEmptyLinesAndCarriageReturns) {
  LineSplitter splitter;
  Collector c;
  ASSERT_TRUE(splitter.feed("\n\r\n{\"a\":1}\r\n\n", c.handler()));
  EXPECT_EQ(c.lines, std::vector<std::string>{"{\"a\":1}"});
}

TEST(LineSplitterTest, FinishHandsOverALastLineWithoutNewline) {
  LineSplitter splitter;
  Collector c;
  ASSERT_TRUE(splitter.feed("{\"a\":1}\n{\"b\":2}", c.handler()));
  ASSERT_EQ(c.lines.size(), 1u);
  ASSERT_TRUE(splitter.finish(c.handler()));
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  ASSERT_TRUE(splitter.finish(c.handler()));  // nothing left: nothing more
  EXPECT_EQ(c.lines.size(), 2u);
}

TEST(LineSplitterTest, TooLongLineIsAnErrorNotUnboundedMemory) {
  LineSplitter splitter(16);
  Collector c;
  ASSERT_TRUE(splitter.feed("0123456789", c.handler()));
  const Result<void> fed = splitter.feed("0123456789", c.handler());
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(fed.error().message().find("longer than 16 bytes"), std::string::npos);
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(splitter.pending(), 0u);  // the buffer was released
  // A whole line of exactly the limit passes.
  ASSERT_TRUE(splitter.feed("0123456789abcdef\n", c.handler()));
  EXPECT_EQ(c.lines.size(), 1u);
}

TEST(LineSplitterTest, HandlerErrorStopsTheChunk) {
  LineSplitter splitter;
  int calls = 0;
  const Result<void> fed = splitter.feed("a\nb\nc\n", [&](std::string_view) -> Result<void> {
    ++calls;
    return makeError(ErrorCode::kDataLoss, "bad event");
  });
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error().message(), "bad event");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace kubemetrics::kube

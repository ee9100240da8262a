#include "agent/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace apimeter {
namespace {

struct Got {
  std::string line;
  uint64_t end;
  bool too_long;
  bool operator==(const Got&) const = default;
};

std::vector<Got> Split(const std::string& input, size_t chunk, size_t max_line, bool finish) {
  std::vector<Got> got;
  LineSplitter splitter(max_line);
  auto fn = [&](std::string_view l, uint64_t end, bool too_long) {
    got.push_back({std::string(l), end, too_long});
  };
  for (size_t i = 0; i < input.size(); i += chunk) {
    splitter.Feed(std::string_view(input).substr(i, chunk), fn);
  }
  if (finish) splitter.Finish(fn);
  return got;
}

TEST(LineSplitterTest, SameLinesAtEveryChunkSize) {
  const std::string input = "alpha\nbeta\r\n\ngamma delta\nlast-partial";
  const std::vector<Got> want = {
      {"alpha", 6, false}, {"beta", 12, false}, {"", 13, false}, {"gamma delta", 25, false}};
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    EXPECT_EQ(Split(input, chunk, 1024, false), want) << "chunk size " << chunk;
  }
}

TEST(LineSplitterTest, PartialLastLineHeldUntilNewlineOrFinish) {
  LineSplitter splitter(1024);
  std::vector<std::string> lines;
  auto fn = [&](std::string_view l, uint64_t, bool) { lines.emplace_back(l); };
  splitter.Feed("one\ntw", fn);
  EXPECT_EQ(lines, std::vector<std::string>{"one"});
  EXPECT_EQ(splitter.committed_offset(), 4u);
  EXPECT_EQ(splitter.pending_bytes(), 2u);
  splitter.Feed("o\n", fn);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
  splitter.Feed("three", fn);
  splitter.Finish(fn);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(LineSplitterTest, TooLongLineReportedOnceAndNotBuffered) {
  std::string input = "ok\n" + std::string(5000, 'x') + "\nafter\n";
  for (size_t chunk : {1u, 7u, 100u, 4096u, 100000u}) {
    auto got = Split(input, chunk, 100, false);
    ASSERT_EQ(got.size(), 3u) << chunk;
    EXPECT_EQ(got[0], (Got{"ok", 3, false}));
    EXPECT_EQ(got[1], (Got{"", 5004, true}));
    EXPECT_EQ(got[2], (Got{"after", 5010, false}));
  }
}

TEST(LineSplitterTest, LineExactlyAtLimitIsKept) {
  std::string input = std::string(100, 'y') + "\n";
  auto got = Split(input, 3, 100, false);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].too_long);
  EXPECT_EQ(got[0].line.size(), 100u);
}

TEST(LineSplitterTest, StartOffsetIsHonoured) {
  LineSplitter splitter(64, 1000);
  uint64_t end = 0;
  splitter.Feed("abc\n", [&](std::string_view, uint64_t e, bool) { end = e; });
  EXPECT_EQ(end, 1004u);
}

}  // namespace
}  // namespace apimeter

#include "agent/byte_intervals.h"

#include <gtest/gtest.h>

namespace apimeter {
namespace {

TEST(ByteIntervalsTest, AddMergesAndSerialisesCanonically) {
  ByteIntervals s;
  s.Add(10, 20);
  s.Add(20, 30);  // adjacent: merged
  s.Add(50, 60);
  s.Add(0, 5);    // before: sorted in
  EXPECT_EQ(s.ToString(), "0-5,10-30,50-60");
  s.Add(4, 55);   // bridges everything
  EXPECT_EQ(s.ToString(), "0-60");
  EXPECT_EQ(s.CountedBytes(), 60u);
}

TEST(ByteIntervalsTest, ParseRoundTripsAndRefusesGarbage) {
  auto s = ByteIntervals::Parse("0-100,200-300");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ToString(), "0-100,200-300");
  EXPECT_TRUE(ByteIntervals::Parse("")->empty());
  for (const char* bad : {"x", "0-0", "10-2", "0-10,5-20", "0-10,", "-5", "1-2-3", "0-10,10-20",
                          "0-10,10-10", "5-5,5-9"}) {
    EXPECT_FALSE(ByteIntervals::Parse(bad).ok()) << bad;
  }
}

TEST(ByteIntervalsTest, Overlaps) {
  auto s = *ByteIntervals::Parse("100-200,300-400");
  EXPECT_FALSE(s.Overlaps(0, 100));
  EXPECT_TRUE(s.Overlaps(150, 160));
  EXPECT_TRUE(s.Overlaps(199, 250));
  EXPECT_FALSE(s.Overlaps(200, 300));
  EXPECT_TRUE(s.Overlaps(250, 301));
  EXPECT_FALSE(s.Overlaps(400, 500));
}

TEST(ByteIntervalsTest, CursorRecordsAResumePositionWithoutCountingBytes) {
  ByteIntervals s;
  EXPECT_EQ(s.End(), 0u);
  s.AddCursor(0);  // the start needs no record
  EXPECT_TRUE(s.empty());
  s.AddCursor(500);
  EXPECT_EQ(s.ToString(), "500-500");
  EXPECT_EQ(s.End(), 500u);
  EXPECT_EQ(s.CountedBytes(), 0u);
  EXPECT_FALSE(s.Overlaps(400, 500));
  EXPECT_FALSE(s.Overlaps(500, 600));
  auto parsed = ByteIntervals::Parse("500-500");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->End(), 500u);
  s.Add(500, 620);  // the first line after the cursor absorbs it
  EXPECT_EQ(s.ToString(), "500-620");
  s.AddCursor(620);  // at the end of an interval: already recorded
  s.AddCursor(550);  // inside: already recorded
  EXPECT_EQ(s.ToString(), "500-620");
  s.AddCursor(700);
  EXPECT_EQ(s.ToString(), "500-620,700-700");
  s.Add(0, 500);  // a backfill of the gap merges with everything it touches
  EXPECT_EQ(s.ToString(), "0-620,700-700");
  s.AddCursor(650);
  EXPECT_EQ(s.ToString(), "0-620,650-650,700-700");
  EXPECT_TRUE(ByteIntervals::Parse(s.ToString()).ok());
  s.Add(600, 700);
  EXPECT_EQ(s.ToString(), "0-700");
}

// A file now shorter than what was counted in it (copytruncate destroyed
// bytes we had read): what lies past its end is forgotten.
TEST(ByteIntervalsTest, ClipToForgetsBytesPastTheEnd) {
  auto s = *ByteIntervals::Parse("0-300,500-900");
  s.ClipTo(1000);
  EXPECT_EQ(s.ToString(), "0-300,500-900");
  s.ClipTo(700);
  EXPECT_EQ(s.ToString(), "0-300,500-700");
  s.ClipTo(500);  // cut to nothing at the end: a cursor, so End() stays 500
  EXPECT_EQ(s.ToString(), "0-300,500-500");
  EXPECT_EQ(s.End(), 500u);
  s.ClipTo(400);
  EXPECT_EQ(s.ToString(), "0-300");
  s.ClipTo(0);
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(ByteIntervals::Parse(s.ToString()).ok());
}

}  // namespace
}  // namespace apimeter

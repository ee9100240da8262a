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
  for (const char* bad : {"x", "5-5", "10-2", "0-10,5-20", "0-10,", "-5", "1-2-3", "0-10,10-20"}) {
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

}  // namespace
}  // namespace apimeter

// ParseTimePoint (common/time_util.h): every accepted spelling, and the
// calendar times that do not exist, which are refused rather than shifted.
#include <gtest/gtest.h>

#include "common/time_util.h"

namespace apimeter {
namespace {

constexpr int64_t kNow = 1764000000;  // 2025-11-24T16:00:00Z

int64_t At(std::string_view text) {
  auto r = ParseTimePoint(text, kNow);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? *r : -1;
}

TEST(ParseTimePointTest, AcceptsEverySpelling) {
  EXPECT_EQ(At("now"), kNow);
  EXPECT_EQ(At("15m"), kNow - 900);
  EXPECT_EQ(At("7d"), kNow - 7 * 86400);
  EXPECT_EQ(At("1764000000"), kNow);
  EXPECT_EQ(At("2025-11-24"), kNow - 16 * 3600);
  EXPECT_EQ(At("2025-11-24T16:00"), kNow);
  EXPECT_EQ(At("2025-11-24T16:00:00Z"), kNow);
  EXPECT_EQ(At("2025-11-24 16:00:00"), kNow);
  EXPECT_EQ(At("2025-11-24T21:30:00+05:30"), kNow);
  EXPECT_EQ(At("2025-11-24T11:00:00-05:00"), kNow);
  EXPECT_EQ(FormatIso8601(At("2025-11-24T23:59:59Z")), "2025-11-24T23:59:59Z");
}

TEST(ParseTimePointTest, LastDaysOfEveryMonthAndLeapYears) {
  EXPECT_EQ(FormatDate(At("2024-02-29")), "2024-02-29");  // divisible by 4
  EXPECT_EQ(FormatDate(At("2000-02-29")), "2000-02-29");  // divisible by 400
  EXPECT_EQ(FormatDate(At("2026-01-31")), "2026-01-31");
  EXPECT_EQ(FormatDate(At("2026-04-30")), "2026-04-30");
  EXPECT_EQ(FormatDate(At("2026-12-31")), "2026-12-31");
}

// Before the fix 2026-02-30 became 2026-03-02 and T10:00:60Z became 10:01:00.
TEST(ParseTimePointTest, RefusesCalendarTimesThatDoNotExist) {
  for (std::string_view bad :
       {"2026-02-30", "2026-02-29", "1900-02-29", "2026-04-31", "2026-06-31", "2026-09-31",
        "2026-11-31", "2026-01-32", "2026-00-10", "2026-13-01", "2026-01-00",
        "2026-02-30T10:00:00Z", "2026-01-01T10:00:60Z", "2026-01-01T10:60Z", "2026-01-01T24:00Z",
        "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00-05:60"}) {
    auto r = ParseTimePoint(bad, kNow);
    EXPECT_FALSE(r.ok()) << bad << " was accepted as " << (r.ok() ? FormatIso8601(*r) : "");
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(std::string(bad)), std::string::npos)
          << "the message names the text: " << r.status().message();
    }
  }
}

TEST(ParseTimePointTest, RefusesMalformedText) {
  for (std::string_view bad : {"", "yesterday", "2026-1-01", "2026-01-01T1:00", "2026-01-01X",
                               "2026-01-01T10:00:00+0530", "1234567890123", "-5m", "5x"}) {
    EXPECT_FALSE(ParseTimePoint(bad, kNow).ok()) << bad;
  }
}

TEST(DaysInMonthTest, Gregorian) {
  EXPECT_EQ(DaysInMonth(2026, 2), 28);
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2100, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2026, 4), 30);
  EXPECT_EQ(DaysInMonth(2026, 12), 31);
  EXPECT_EQ(DaysInMonth(2026, 13), 0);
}

}  // namespace
}  // namespace apimeter

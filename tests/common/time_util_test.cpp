// common/time_util.h beyond the spellings of time_point_test.cpp: durations,
// zone offsets (including ones that move the date), times before 1970, and
// the calendar conversions the other functions are built on.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/time_util.h"

namespace apimeter {
namespace {

constexpr int64_t kNow = 1764000000;  // 2025-11-24T16:00:00Z

int64_t Seconds(std::string_view text) {
  auto r = ParseDuration(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? *r : -1;
}

int64_t At(std::string_view text) {
  auto r = ParseTimePoint(text, kNow);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? *r : -1;
}

TEST(ParseDurationTest, EveryUnit) {
  EXPECT_EQ(Seconds("90s"), 90);
  EXPECT_EQ(Seconds("15m"), 15 * 60);
  EXPECT_EQ(Seconds("48h"), 48 * 3600);
  EXPECT_EQ(Seconds("35d"), 35 * 86400);
  EXPECT_EQ(Seconds("0s"), 0);
  EXPECT_EQ(Seconds("007m"), 7 * 60);
}

TEST(ParseDurationTest, RefusesTextWithoutANumberAndAUnit) {
  for (std::string_view bad : {"", "s", "48", "h48", "1.5h", "-5m", "+5m", "5w", "5M", "5 m", " 5m",
                               "5m ", "5ms", "1h30m", "0x10s"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "' was accepted as " << (r.ok() ? *r : 0);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
      EXPECT_NE(r.status().message().find("'" + std::string(bad) + "'"), std::string::npos)
          << "the message quotes the text: " << r.status().message();
    }
  }
}

// A well-formed duration that is too large is told apart from a malformed one,
// and never wraps around into a small or negative number of seconds.
TEST(ParseDurationTest, TooLargeIsResourceExhausted) {
  EXPECT_EQ(Seconds("1099511627776s"), int64_t{1} << 40);
  for (std::string_view big : {"1099511627777s", "1099511627777d", "99999999999999999999d"}) {
    auto r = ParseDuration(big);
    ASSERT_FALSE(r.ok()) << big << " was accepted as " << *r;
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << big;
  }
}

TEST(ParseTimePointTest, DurationsCountBackFromNow) {
  EXPECT_EQ(At("0s"), kNow);
  EXPECT_EQ(At("90s"), kNow - 90);
  EXPECT_EQ(At("24h"), kNow - 86400);
  EXPECT_EQ(At("30d"), kNow - 30 * 86400);
  EXPECT_EQ(At("48"), 48);  // a bare number is epoch seconds, not a duration
}

TEST(ParseTimePointTest, ZoneOffsetsThatMoveTheDate) {
  // Every spelling of UTC is the same instant.
  EXPECT_EQ(At("2026-03-01T18:15:00Z"), 1772388900);
  EXPECT_EQ(At("2026-03-01T18:15:00"), 1772388900);
  EXPECT_EQ(At("2026-03-01T18:15:00+00:00"), 1772388900);
  EXPECT_EQ(At("2026-03-01T18:15:00-00:00"), 1772388900);
  // Local midnight east of UTC is the previous UTC day (here: the last day of a year).
  EXPECT_EQ(FormatIso8601(At("2026-01-01T00:30:00+01:00")), "2025-12-31T23:30:00Z");
  // Late evening west of UTC is the next UTC day, across the end of February.
  EXPECT_EQ(FormatIso8601(At("2024-02-28T23:00:00-02:00")), "2024-02-29T01:00:00Z");
  EXPECT_EQ(FormatIso8601(At("2026-02-28T23:00:00-02:00")), "2026-03-01T01:00:00Z");
  // Offsets with minutes (India, Nepal, Marquesas) and the largest accepted.
  EXPECT_EQ(FormatIso8601(At("2026-03-01T23:45:00+05:45")), "2026-03-01T18:00:00Z");
  EXPECT_EQ(FormatIso8601(At("2026-03-01T08:30:00-09:30")), "2026-03-01T18:00:00Z");
  EXPECT_EQ(FormatIso8601(At("2026-03-01T00:00:00+23:59")), "2026-02-28T00:01:00Z");
  // A date alone with a zone is its local midnight.
  EXPECT_EQ(FormatIso8601(At("2026-03-01+02:00")), "2026-02-28T22:00:00Z");
  EXPECT_EQ(FormatIso8601(At("2026-03-01Z")), "2026-03-01T00:00:00Z");
}

TEST(ParseTimePointTest, RefusesMalformedZones) {
  for (std::string_view bad :
       {"2026-03-01T10:00:00+5:30", "2026-03-01T10:00:00+05", "2026-03-01T10:00:00+05:3",
        "2026-03-01T10:00:00 +05:00", "2026-03-01T10:00:00z", "2026-03-01T10:00:00UTC",
        "2026-03-01T10:00:00Z+01:00", "2026-03-01T10:00:00+05:30Z"}) {
    EXPECT_FALSE(ParseTimePoint(bad, kNow).ok()) << bad;
  }
}

TEST(ParseTimePointTest, TimesBefore1970) {
  EXPECT_EQ(At("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(At("1900-03-01"), -2203891200);
  EXPECT_EQ(At("0"), 0);
  EXPECT_EQ(At("999999999999"), 999999999999);  // 12 digits, the most accepted
}

TEST(CivilTest, DaysFromCivilKnownDates) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(2024, 3, 1) - DaysFromCivil(2024, 2, 28), 2);  // leap day between
  EXPECT_EQ(DaysFromCivil(2100, 3, 1) - DaysFromCivil(2100, 2, 28), 1);  // none in 2100
}

TEST(CivilTest, CivilFromSecondsBeforeAndAfterEpoch) {
  const CivilTime before = CivilFromSeconds(-1);
  EXPECT_EQ(before.year, 1969);
  EXPECT_EQ(before.month, 12u);
  EXPECT_EQ(before.day, 31u);
  EXPECT_EQ(before.hour, 23u);
  EXPECT_EQ(before.minute, 59u);
  EXPECT_EQ(before.second, 59u);
  EXPECT_EQ(FormatIso8601(1709251199), "2024-02-29T23:59:59Z");
  EXPECT_EQ(FormatDate(1709251200), "2024-03-01");
  EXPECT_EQ(FormatIso8601(-2203891200), "1900-03-01T00:00:00Z");
}

// Every three days for 600 years around the epoch (leap and century years
// included; ~70,000 points, about 0.2 s of CPU under ASan): what
// FormatIso8601 writes, ParseTimePoint reads back.
TEST(CivilTest, FormatAndParseRoundTrip) {
  const int64_t from = DaysFromCivil(1700, 1, 1) * 86400;
  const int64_t to = DaysFromCivil(2300, 1, 1) * 86400;
  int mismatches = 0;
  for (int64_t t = from; t < to;
       t += 3 * 86400 + 3661) {  // + 3661 s: through hours, minutes, seconds
    const std::string text = FormatIso8601(t);
    auto back = ParseTimePoint(text, kNow);
    if (!back.ok() || *back != t) {
      if (++mismatches <= 5) ADD_FAILURE() << t << " -> " << text;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace apimeter

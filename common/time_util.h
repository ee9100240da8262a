// Calendar and time-text helpers shared by parsers, the query layer and the CLI.
//
// Promise: pure functions on UTC; no time zone database, no locale, no
// allocation except where a std::string is returned. Proleptic Gregorian
// calendar (Howard Hinnant's days_from_civil algorithm).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace apimeter {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kSecondsPerMinute = 60;
constexpr int64_t kSecondsPerHour = 3600;
constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a civil date (month 1..12, day 1..31).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// Gregorian leap years; the days of `month` (1..12) in `year`, 0 for a bad month.
bool IsLeapYear(int64_t year);
int64_t DaysInMonth(int64_t year, unsigned month);

struct CivilTime {
  int64_t year;
  unsigned month, day, hour, minute, second;
};
CivilTime CivilFromSeconds(int64_t epoch_seconds);

// "2026-11-26T21:41:51Z" (seconds precision, UTC).
std::string FormatIso8601(int64_t epoch_seconds);
// "2026-11-26"
std::string FormatDate(int64_t epoch_seconds);

// Parses a point in time given on the command line or in an API query:
//   "now", a duration before now ("15m", "1h", "24h", "7d", "30d"),
//   "2026-11-26", "2026-11-26T10:00", "2026-11-26T10:00:00", each optionally
//   followed by "Z" or "+hh:mm"/"-hh:mm" (no suffix means UTC),
//   or integer epoch seconds.
// Returns epoch seconds. A calendar time that does not exist (February 30,
// second 60, hour 24, an offset of 24 h or more) is InvalidArgument.
Result<int64_t> ParseTimePoint(std::string_view text, int64_t now_seconds);

// Parses a duration such as "90s", "15m", "48h", "35d" into seconds.
// Bare numbers are refused: a duration needs a unit. A well-formed duration
// above 2^40 units fails with ResourceExhausted ("... is too large").
Result<int64_t> ParseDuration(std::string_view text);

}  // namespace apimeter

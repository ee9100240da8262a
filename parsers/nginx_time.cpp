#include "parsers/nginx_time.h"

#include "common/time_util.h"

namespace apimeter::parsers_internal {
namespace {

// Reads n digits at s[pos]; the value classes already guarantee they are digits, but a
// caller outside the matchers may not, so check anyway.
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// nginx writes English month abbreviations with this exact capitalisation.
int MonthFromName(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (s == kMonths[i]) return i + 1;
  }
  return 0;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

struct Civil {
  int year, month, day, hour, minute, second;
  int offset_sign, offset_hours, offset_minutes;
};

// Validates ranges and converts to UTC µs. A leap second (:60) counts as the next second.
bool ToMicros(const Civil& c, int64_t* time_us) {
  if (c.year < 1970 || c.year > 9999 || c.month < 1 || c.month > 12 || c.day < 1 ||
      c.day > DaysInMonth(c.year, c.month) || c.hour > 23 || c.minute > 59 || c.second > 60 ||
      c.offset_hours > 23 || c.offset_minutes > 59) {
    return false;
  }
  const int64_t local =
      DaysFromCivil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day)) *
          kSecondsPerDay +
      c.hour * 3600 + c.minute * 60 + c.second;
  const int64_t utc = local - c.offset_sign * (c.offset_hours * 3600 + c.offset_minutes * 60);
  if (utc < 0) return false;
  *time_us = utc * kMicrosPerSecond;
  return true;
}

int SignOf(char c) { return c == '+' ? 1 : c == '-' ? -1 : 0; }

}  // namespace

bool ParseTimeLocal(std::string_view s, int64_t* time_us) {
  // 0         1         2
  // 01234567890123456789012345
  // 10/Oct/2000:13:55:36 -0700
  if (s.size() != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' ||
      s[17] != ':' || s[20] != ' ') {
    return false;
  }
  Civil c{};
  c.month = MonthFromName(s.substr(3, 3));
  c.offset_sign = SignOf(s[21]);
  return c.month != 0 && c.offset_sign != 0 && Digits(s, 0, 2, &c.day) &&
         Digits(s, 7, 4, &c.year) && Digits(s, 12, 2, &c.hour) && Digits(s, 15, 2, &c.minute) &&
         Digits(s, 18, 2, &c.second) && Digits(s, 22, 2, &c.offset_hours) &&
         Digits(s, 24, 2, &c.offset_minutes) && ToMicros(c, time_us);
}

bool ParseTimeIso8601(std::string_view s, int64_t* time_us) {
  // 0         1         2
  // 0123456789012345678901234
  // 2000-10-10T13:55:36-07:00
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return false;
  }
  Civil c{};
  if (s.size() == 20 && s[19] == 'Z') {
    c.offset_sign = 1;
  } else {
    c.offset_sign = SignOf(s[19]);
    if (s.size() != 25 || c.offset_sign == 0 || s[22] != ':' ||
        !Digits(s, 20, 2, &c.offset_hours) || !Digits(s, 23, 2, &c.offset_minutes)) {
      return false;
    }
  }
  return Digits(s, 0, 4, &c.year) && Digits(s, 5, 2, &c.month) && Digits(s, 8, 2, &c.day) &&
         Digits(s, 11, 2, &c.hour) && Digits(s, 14, 2, &c.minute) && Digits(s, 17, 2, &c.second) &&
         ToMicros(c, time_us);
}

bool ParseMsec(std::string_view s, int64_t* time_us) {
  const size_t dot = s.find('.');
  // 12 digits of seconds reach year 33658; more is not a time nginx could write.
  if (dot == std::string_view::npos || dot == 0 || dot > 12 || s.size() != dot + 4) return false;
  int64_t secs = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    secs = secs * 10 + (s[i] - '0');
  }
  int ms = 0;
  if (!Digits(s, dot + 1, 3, &ms)) return false;
  *time_us = secs * kMicrosPerSecond + ms * 1000;
  return true;
}

}  // namespace apimeter::parsers_internal

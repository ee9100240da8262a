#include "common/time_util.h"

#include <charconv>
#include <cstring>
#include <cstdio>

namespace apimeter {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t year, unsigned month) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

CivilTime CivilFromSeconds(int64_t t) {
  int64_t days = t / kSecondsPerDay;
  int64_t secs = t % kSecondsPerDay;
  if (secs < 0) {
    secs += kSecondsPerDay;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  return CivilTime{y, m, d, static_cast<unsigned>(secs / 3600),
                   static_cast<unsigned>(secs % 3600 / 60), static_cast<unsigned>(secs % 60)};
}

std::string FormatIso8601(int64_t t) {
  CivilTime c = CivilFromSeconds(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02uZ", static_cast<long long>(c.year),
                c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

std::string FormatDate(int64_t t) {
  CivilTime c = CivilFromSeconds(t);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

namespace {

bool ReadInt(std::string_view& s, size_t digits, int64_t* out) {
  if (s.size() < digits) return false;
  int64_t v = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  s.remove_prefix(digits);
  return true;
}

bool Eat(std::string_view& s, char c) {
  if (s.empty() || s[0] != c) return false;
  s.remove_prefix(1);
  return true;
}

// ResourceExhausted: the text has the right form, the number is too large.
Status TooLargeDuration(std::string_view text) {
  return Status::ResourceExhausted("duration '" + std::string(text) + "' is too large");
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  if (text.size() < 2) {
    return Status::InvalidArgument("duration '" + std::string(text) +
                                   "' needs a number and a unit (s, m, h or d), e.g. 48h");
  }
  int64_t n = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(first, last, n);
  const bool well_formed =
      ptr == last && *first != '-' && *last != 0 && std::strchr("smhd", *last) != nullptr;
  if (ec == std::errc::result_out_of_range && well_formed) return TooLargeDuration(text);
  if (ec != std::errc() || ptr != last || n < 0) {
    return Status::InvalidArgument("duration '" + std::string(text) +
                                   "' must be a whole number followed by s, m, h or d, e.g. 48h");
  }
  int64_t unit = 0;
  switch (*last) {
    case 's': unit = 1; break;
    case 'm': unit = kSecondsPerMinute; break;
    case 'h': unit = kSecondsPerHour; break;
    case 'd': unit = kSecondsPerDay; break;
    default:
      return Status::InvalidArgument("duration '" + std::string(text) +
                                     "' has unknown unit; use s, m, h or d, e.g. 48h");
  }
  if (n > (int64_t{1} << 40)) return TooLargeDuration(text);
  return n * unit;
}

Result<int64_t> ParseTimePoint(std::string_view text, int64_t now) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "time '" + std::string(text) +
        "' is not understood; use now, a duration ago (1h, 24h, 7d, 30d), "
        "an ISO-8601 time such as 2026-11-26T10:00:00Z, or epoch seconds");
  };
  if (text.empty()) return bad();
  if (text == "now") return now;
  const char last = text.back();
  if (last == 's' || last == 'm' || last == 'h' || last == 'd') {
    auto d = ParseDuration(text);
    if (!d.ok()) return bad();
    return now - *d;
  }
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && c >= '0' && c <= '9';
  if (all_digits) {
    if (text.size() > 12) return bad();
    int64_t v = 0;
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
  }
  std::string_view s = text;
  int64_t y, mo, d, h = 0, mi = 0, se = 0;
  if (!ReadInt(s, 4, &y) || !Eat(s, '-') || !ReadInt(s, 2, &mo) || !Eat(s, '-') ||
      !ReadInt(s, 2, &d)) {
    return bad();
  }
  if (!s.empty() && (s[0] == 'T' || s[0] == ' ')) {
    s.remove_prefix(1);
    if (!ReadInt(s, 2, &h) || !Eat(s, ':') || !ReadInt(s, 2, &mi)) return bad();
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!ReadInt(s, 2, &se)) return bad();
    }
  }
  int64_t offset = 0;
  if (!s.empty()) {
    if (s == "Z") {
      s.remove_prefix(1);
    } else if (s[0] == '+' || s[0] == '-') {
      const int sign = s[0] == '+' ? 1 : -1;
      s.remove_prefix(1);
      int64_t oh, om;
      if (!ReadInt(s, 2, &oh) || !Eat(s, ':') || !ReadInt(s, 2, &om) || !s.empty() || oh > 23 ||
          om > 59) {
        return bad();
      }
      offset = sign * (oh * 3600 + om * 60);
    } else {
      return bad();
    }
  }
  // A date that does not exist (2026-02-30, 10:00:60) is refused, never
  // shifted into the next month or minute.
  if (!s.empty() || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, static_cast<unsigned>(mo)) ||
      h > 23 || mi > 59 || se > 59) {
    return bad();
  }
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * kSecondsPerDay +
         h * 3600 + mi * 60 + se - offset;
}

}  // namespace apimeter

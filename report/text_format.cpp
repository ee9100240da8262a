// Human-readable numbers for reports (see text_format.h).
#include "report/text_format.h"

#include <cmath>
#include <cstdio>

#include "common/time_util.h"

namespace apimeter::text {

std::string Count(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  const std::string digits = std::to_string(v.get<uint64_t>());
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Percent(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", v.get<double>() * 100);
  return buf;
}

std::string Ms(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  const double ms = v.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.2f ms" : ms < 1000 ? "%.1f ms" : "%.0f ms", ms);
  return buf;
}

std::string Bytes(const nlohmann::json& v) {
  if (!v.is_number()) return "n/a";
  double b = v.get<double>();
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  size_t u = 0;
  while (b >= 1000 && u + 1 < std::size(kUnits)) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, kUnits[u]);
  return buf;
}

uint64_t NiceCeil(uint64_t v) {
  if (v == 0) return 0;
  for (uint64_t scale = 1;; scale *= 10) {
    for (uint64_t m : {10, 12, 15, 20, 25, 30, 40, 50, 60, 80}) {
      if (m * scale >= v * 10) return m * scale / 10 == 0 ? 1 : m * scale / 10;
    }
    if (scale > UINT64_MAX / 100) return v;
  }
}

std::string HourLabel(const nlohmann::json& iso) {
  if (!iso.is_string()) return "n/a";
  const std::string s = iso.get<std::string>();
  if (s.size() < 16) return s;
  return s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
}

std::string Period(const nlohmann::json& period) {
  const std::string from = period.at("from").get<std::string>();
  const std::string to = period.at("to").get<std::string>();
  auto from_s = ParseTimePoint(from, 0), to_s = ParseTimePoint(to, 0);
  if (!from_s.ok() || !to_s.ok()) return from + " – " + to;
  const int64_t days = (*to_s - *from_s) / 86400;
  return FormatDate(*from_s) + " – " + FormatDate(*to_s - 1) + " (" + std::to_string(days) +
         (days == 1 ? " day)" : " days)");
}

}  // namespace apimeter::text

#include "query/json_format.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/time_util.h"

namespace apimeter::query_json {

double MicrosToMs(double micros) { return std::round(micros) / 1000.0; }

nlohmann::json OptionalMs(std::optional<double> micros) {
  if (!micros) return nullptr;
  return MicrosToMs(*micros);
}

nlohmann::json Ratio(double numerator, double denominator, int decimals) {
  if (denominator == 0) return nullptr;
  const double scale = std::pow(10.0, decimals);
  return std::round(numerator / denominator * scale) / scale;
}

nlohmann::json LatencyMs(const Rollup& r) {
  nlohmann::json j = nlohmann::json::object();
  j["avg"] = r.latency_count == 0
                 ? nlohmann::json(nullptr)
                 : nlohmann::json(MicrosToMs(static_cast<double>(r.latency_sum_us) /
                                             static_cast<double>(r.latency_count)));
  j["p50"] = OptionalMs(r.histogram.PercentileMicros(50));
  j["p90"] = OptionalMs(r.histogram.PercentileMicros(90));
  j["p95"] = OptionalMs(r.histogram.PercentileMicros(95));
  j["p99"] = OptionalMs(r.histogram.PercentileMicros(99));
  j["max"] = r.latency_max_us < 0
                 ? nlohmann::json(nullptr)
                 : nlohmann::json(MicrosToMs(static_cast<double>(r.latency_max_us)));
  return j;
}

nlohmann::json StatusClasses(const Rollup& r) {
  nlohmann::json j = nlohmann::json::object();
  for (int c = 1; c <= 5; ++c) j[std::to_string(c) + "xx"] = r.StatusRange(c * 100, c * 100 + 99);
  return j;
}

nlohmann::json StatusCodes(const Rollup& r) {
  std::map<int, uint64_t> sorted(r.status_counts.begin(), r.status_counts.end());
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [code, n] : sorted) {
    if (n != 0) j[std::to_string(code)] = n;
  }
  return j;
}

std::string Iso(int64_t epoch_seconds) { return FormatIso8601(epoch_seconds); }

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid
// (overlongs, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

std::string Utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace apimeter::query_json

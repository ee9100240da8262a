// Typed answers (see answers.h): the figures every answer derives alike.
#include "query/answers.h"

#include <algorithm>
#include <cmath>

namespace apimeter {

std::optional<double> RoundedRatio(double numerator, double denominator, int decimals) {
  if (denominator == 0) return std::nullopt;
  const double scale = std::pow(10.0, decimals);
  return std::round(numerator / denominator * scale) / scale;
}

double MicrosToMs(double micros) { return std::round(micros) / 1000.0; }

std::optional<double> OptionalMs(std::optional<double> micros) {
  if (!micros) return std::nullopt;
  return MicrosToMs(*micros);
}

LatencySummary SummarizeLatency(const Rollup& r) {
  LatencySummary s;
  if (r.latency_count != 0) {
    s.avg = MicrosToMs(static_cast<double>(r.latency_sum_us) / static_cast<double>(r.latency_count));
  }
  s.p50 = OptionalMs(r.histogram.PercentileMicros(50));
  s.p90 = OptionalMs(r.histogram.PercentileMicros(90));
  s.p95 = OptionalMs(r.histogram.PercentileMicros(95));
  s.p99 = OptionalMs(r.histogram.PercentileMicros(99));
  if (r.latency_max_us >= 0) s.max = MicrosToMs(static_cast<double>(r.latency_max_us));
  return s;
}

bool SeriesAnswer::no_data() const {
  return std::all_of(points.begin(), points.end(),
                     [](const SeriesPointAnswer& p) { return p.requests == 0; });
}

std::string_view HeatmapMetricName(HeatmapMetric metric) {
  switch (metric) {
    case HeatmapMetric::kP99: return "p99";
    case HeatmapMetric::kP95: return "p95";
    case HeatmapMetric::kP50: return "p50";
    case HeatmapMetric::kRequests: return "requests";
    case HeatmapMetric::kErrorRate: return "error_rate";
  }
  return "?";
}

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

std::string ValidUtf8(std::string_view s) {
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

}  // namespace apimeter

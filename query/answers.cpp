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

}  // namespace apimeter

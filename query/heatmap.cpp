#include "query/heatmap.h"

#include <utility>


namespace apimeter {

namespace {

constexpr std::pair<std::string_view, HeatmapMetric> kMetrics[] = {
    {"p99", HeatmapMetric::kP99},
    {"p95", HeatmapMetric::kP95},
    {"p50", HeatmapMetric::kP50},
    {"requests", HeatmapMetric::kRequests},
    {"error_rate", HeatmapMetric::kErrorRate},
};

Status CheckHeatmapParams(const QueryParams& p) {
  if (p.limit < 1 || p.limit > kMaxHeatmapRows) {
    return Status::InvalidArgument("limit must be between 1 and " +
                                   std::to_string(kMaxHeatmapRows) + " for heatmap (got " +
                                   std::to_string(p.limit) + ")");
  }
  // Rows are endpoint series; per-host and per-customer endpoint series do
  // not exist at the hour tier, so such a filter cannot be answered exactly.
  if (!p.filter.host.empty() || !p.filter.customer.empty()) {
    return Status::InvalidArgument(
        "filter host/customer cannot be used with heatmap: rows are whole endpoint series");
  }
  return Status::Ok();
}

}  // namespace

Result<HeatmapMetric> ParseHeatmapMetric(std::string_view metric) {
  for (const auto& [name, value] : kMetrics) {
    if (name == metric) return value;
  }
  return Status::InvalidArgument(
      "metric must be one of p99, p95, p50, requests, error_rate (got '" +
      ValidUtf8(metric.substr(0, 64)) + "')");
}

int64_t HeatmapStep(int64_t from_s, int64_t to_s, const RetentionSeconds& retention,
                    int64_t now_s) {
  const bool short_range = to_s - from_s <= kHeatmapHourlyMaxSpan;
  return short_range && BucketRetained(Tier::kHour, FloorDiv(from_s, 3600), retention, now_s)
             ? 3600
             : 86400;
}

std::optional<double> HeatmapCell(const Rollup& r, HeatmapMetric metric) {
  if (r.requests == 0) return std::nullopt;
  switch (metric) {
    case HeatmapMetric::kP99:
      return OptionalMs(r.histogram.PercentileMicros(99));
    case HeatmapMetric::kP95:
      return OptionalMs(r.histogram.PercentileMicros(95));
    case HeatmapMetric::kP50:
      return OptionalMs(r.histogram.PercentileMicros(50));
    case HeatmapMetric::kRequests:
      return static_cast<double>(r.requests);
    case HeatmapMetric::kErrorRate:
      return RoundedRatio(static_cast<double>(r.StatusRange(400, 499) + r.StatusRange(500, 599)),
                          static_cast<double>(r.requests), 6);
  }
  return std::nullopt;
}

Result<HeatmapAnswer> BuildHeatmap(const QueryParams& p, std::string_view metric_name,
                          const RetentionSeconds& retention, int64_t now_s,
                          const HeatmapReader& reader) {
  APIMETER_ASSIGN_OR_RETURN(HeatmapMetric metric, ParseHeatmapMetric(metric_name));
  APIMETER_RETURN_IF_ERROR(CheckHeatmapParams(p));
  const int64_t step = HeatmapStep(p.from_s, p.to_s, retention, now_s);
  APIMETER_ASSIGN_OR_RETURN(TimeseriesPlan grid,
                            PlanTimeseries(p.from_s, p.to_s, step, retention, now_s));
  std::vector<std::string> endpoints;
  if (!p.filter.endpoint.empty()) {
    endpoints = {p.filter.endpoint};
  } else {
    // Rank over exactly the columns shown; the grid is whole hours or days,
    // so the plan reads hour/day indexes only.
    APIMETER_ASSIGN_OR_RETURN(RangePlan plan, PlanRange(grid.from_s, grid.to_s, retention, now_s));
    APIMETER_ASSIGN_OR_RETURN(endpoints, reader.top_endpoints(plan.runs, p.limit));
  }
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> cells, reader.read_cells(endpoints, grid.points));
  const size_t cols = grid.points.size();
  if (cells.size() != endpoints.size() * cols) {
    return Status::Internal("heatmap: reader returned " + std::to_string(cells.size()) +
                            " cells for " + std::to_string(endpoints.size() * cols));
  }
  HeatmapAnswer a;
  a.from_s = grid.from_s;
  a.to_s = grid.to_s;
  a.requested_from_s = grid.requested_from_s;
  a.requested_to_s = grid.requested_to_s;
  a.step_s = grid.step_s;
  a.metric = metric;
  a.limit = p.limit;
  for (const SeriesPoint& point : grid.points) a.times.push_back(point.t);
  for (size_t row = 0; row < endpoints.size(); ++row) {
    std::vector<std::optional<double>> values;
    values.reserve(cols);
    for (size_t col = 0; col < cols; ++col) {
      values.push_back(HeatmapCell(cells[row * cols + col], metric));
    }
    a.cells.push_back(std::move(values));
  }
  a.endpoints = std::move(endpoints);
  return a;
}

}  // namespace apimeter

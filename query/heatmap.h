// Heatmap: endpoint × time grid of one metric, for the dashboard
// (docs/api.md, "heatmap").
//
// Promise: rows are the top-N endpoints by requests over the whole range
// (the same index sums and tie order as QueryEngine::Endpoints); columns are
// whole hour buckets when the range is at most 14 days and the hour tier is
// still retained at its start, whole UTC days otherwise. Each cell is the
// exact rollup of one endpoint series in one bucket, so counts are exact and
// percentiles are nearest-rank from that bucket's histogram (within 1%).
// A cell with no requests (or, for a percentile, no latencies) is JSON null.
// Bad parameters give InvalidArgument naming the parameter. Memory is bounded
// by limit × columns (at most kMaxHeatmapRows × kMaxTimeseriesPoints rollups).
// Thread-safety: pure functions of their arguments (the reader does the I/O);
// safe to call from several threads with separate readers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/rollup.h"
#include "common/result.h"
#include "query/query_engine.h"
#include "query/range_plan.h"

namespace apimeter {

// "p99" | "p95" | "p50" | "requests" | "error_rate" (HeatmapMetricName,
// query/answers.h); InvalidArgument otherwise.
Result<HeatmapMetric> ParseHeatmapMetric(std::string_view metric);

// Rows are bounded tighter than top-N lists: each row reads one hash per column.
constexpr int64_t kMaxHeatmapRows = 200;
// Ranges up to this long get hourly columns; longer ones daily columns.
constexpr int64_t kHeatmapHourlyMaxSpan = 14 * 86400;

// The column width for [from_s, to_s): 3600 or 86400 (see the promise above).
int64_t HeatmapStep(int64_t from_s, int64_t to_s, const RetentionSeconds& retention, int64_t now_s);

// One cell's value: latency ms (percentiles), a count, or a rate in 0..1
// (6 decimals); empty when the rollup has no requests / no latencies.
std::optional<double> HeatmapCell(const Rollup& r, HeatmapMetric metric);

// The I/O the heatmap needs, provided by QueryEngine.
struct HeatmapReader {
  // The `limit` endpoints with the most requests over `runs`, most first.
  std::function<Result<std::vector<std::string>>(const std::vector<BucketRun>& runs, int64_t limit)>
      top_endpoints;
  // Rollups of each endpoint series at each point: result[row * points.size() + col].
  std::function<Result<std::vector<Rollup>>(const std::vector<std::string>& endpoints,
                                            const std::vector<SeriesPoint>& points)>
      read_cells;
};

// The heatmap for params (range, limit; filter endpoint = that single
// row; filter host/customer are rejected) at `now_s`.
Result<HeatmapAnswer> BuildHeatmap(const QueryParams& params, std::string_view metric,
                                    const RetentionSeconds& retention, int64_t now_s,
                                    const HeatmapReader& reader);

}  // namespace apimeter

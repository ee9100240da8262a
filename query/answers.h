// Typed answers of QueryEngine (query/query_engine.h): what each question
// returns, as values. No module formats them but the edges: the HTTP API and
// `apimeter query --json` write them as JSON with server/answer_json.h (the
// contract of docs/api.md), report/ and alerts/ read the fields directly, so
// a renamed field is a compile error rather than a missing JSON key.
//
// Promise: every number is the API's number for the same question, already
// in the API's units and rounding (milliseconds rounded to the microsecond,
// ratios to 6 decimals, rps to 3), so a reader and the JSON never disagree.
// No data is never a zero that looks like a result: a value that cannot be
// computed (no requests, no latencies, an empty range) is an empty
// std::optional (JSON null), and each answer says `no_data()` when it
// counted nothing. An answer that left out damaged v2 blocks says so in its
// AnswerQuality (`partial()` and the block keys), like the JSON's
// "partial"/"damaged". Names are stored as read (raw bytes); the JSON
// writer replaces invalid UTF-8.
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "query/range_plan.h"
#include "sink/schema.h"

namespace apimeter {

struct QueryFilter {
  std::string host, endpoint, customer;  // "" = no filter
};

// Latency figures in milliseconds (rounded to the microsecond); each empty
// when the rollup has no latencies.
struct LatencySummary {
  std::optional<double> avg, p50, p90, p95, p99, max;
};

// The range an answer covers and how it was read (query/range_plan.h).
struct AnswerRange {
  int64_t from_s = 0, to_s = 0;                      // effective [from, to)
  int64_t requested_from_s = 0, requested_to_s = 0;  // as asked
  bool adjusted = false;                             // effective != requested
  std::vector<BucketRun> plan;                       // the buckets read, coarse to fine
};

// How whole and how fine an answer is.
struct AnswerQuality {
  // kMinute: minute resolution (the JSON has no "resolution"); kDay: the
  // answer reads customer × endpoint series, which exist per UTC day only,
  // and covers whole UTC days (JSON "resolution": "day" and a "note").
  Tier resolution = Tier::kMinute;
  // Keys of v2 blocks left out because they failed their checks, sorted.
  std::vector<std::string> damaged;
  bool partial() const { return !damaged.empty(); }
};

// Figures derived from a Rollup the way every answer states them.
std::optional<double> RoundedRatio(double numerator, double denominator, int decimals);
double MicrosToMs(double micros);
std::optional<double> OptionalMs(std::optional<double> micros);
LatencySummary SummarizeLatency(const Rollup& r);
// A name as the JSON shows it: bytes that are not valid UTF-8 replaced by
// U+FFFD (stored names are untrusted log input).
std::string ValidUtf8(std::string_view s);

// GET /api/v1/overview: one series (all, host, endpoint, customer or
// customer × endpoint) summed over the range.
struct OverviewAnswer {
  AnswerRange range;
  QueryFilter filter;
  uint64_t requests = 0, errors_4xx = 0, errors_5xx = 0;
  std::optional<double> error_rate;   // (4xx + 5xx) / requests, 6 decimals
  std::map<int, uint64_t> status;     // non-zero status codes only
  std::array<uint64_t, 5> status_class{};  // 1xx .. 5xx
  LatencySummary latency_ms;
  uint64_t latency_count = 0, bytes_in = 0, bytes_out = 0, rejected = 0;
  std::optional<double> rps;  // requests / seconds elapsed; empty when none elapsed
  int64_t rps_seconds = 0;    // the seconds of the range already past
  AnswerQuality quality;
  bool no_data() const { return requests == 0; }
};

// One row of a top list: an endpoint or a customer.
struct TopRow {
  std::string name;
  uint64_t requests = 0;
  std::optional<double> share;  // of TopListAnswer::total_requests, 6 decimals
  uint64_t errors_4xx = 0, errors_5xx = 0;
  std::optional<double> error_rate;
  LatencySummary latency_ms;
  uint64_t bytes_in = 0, bytes_out = 0;
};

// GET /api/v1/endpoints and /api/v1/customers: the busiest names, most
// requests first (ties by name). Rows have requests > 0.
struct TopListAnswer {
  enum class Of { kEndpoints, kCustomers };
  Of of = Of::kEndpoints;
  AnswerRange range;
  QueryFilter filter;
  // The shares' denominator: all requests, or the filtered customer's.
  uint64_t total_requests = 0;
  int64_t limit = 0;
  std::vector<TopRow> rows;
  AnswerQuality quality;
  bool no_data() const { return rows.empty(); }
};

struct SeriesPointAnswer {
  int64_t t = 0;  // the point's start, epoch seconds
  uint64_t requests = 0, errors_4xx = 0, errors_5xx = 0, bytes_out = 0;
  std::optional<double> p50, p95, p99;  // ms; empty without latencies
};

// GET /api/v1/timeseries: one point per step over the range, every point
// present (a point without requests has requests 0 and empty percentiles).
struct SeriesAnswer {
  int64_t from_s = 0, to_s = 0, requested_from_s = 0, requested_to_s = 0;
  int64_t step_s = 0;
  bool step_chosen = false;  // the step was chosen from the range
  QueryFilter filter;
  std::vector<SeriesPointAnswer> points;
  AnswerQuality quality;
  bool no_data() const;
};

// GET /api/v1/slow: the slowest single requests in the range, slowest first
// (ties: earlier first). Times and latencies in microseconds, as stored.
struct SlowAnswer {
  int64_t from_s = 0, to_s = 0;
  QueryFilter filter;
  int64_t limit = 0;
  uint64_t malformed = 0;  // stored members that could not be decoded
  std::vector<SlowRequest> requests;
  bool no_data() const { return requests.empty(); }
};

// One row of GET /api/v1/clients: a client (a user agent reduced to
// product/major.minor by parsers/client_agent.h; "none" when the request
// sent no User-Agent, "other" past limits.clients_per_day).
struct ClientRow {
  std::string client;
  uint64_t requests = 0;
  std::optional<double> share;  // of ClientsAnswer::total_requests, 6 decimals
  uint64_t errors_4xx = 0, errors_5xx = 0;
  std::optional<double> error_rate;
  LatencySummary latency_ms;
  uint64_t bytes_in = 0, bytes_out = 0;
};

// GET /api/v1/clients (issue 18 part 2): the clients that called, most
// requests first (ties by name), over whole UTC days (client series exist
// per day only: quality.resolution is kDay). filter.endpoint or
// filter.customer narrows to one endpoint (client × endpoint series) or one
// customer (customer × client series); not both (InvalidArgument), and host
// is not a client filter (InvalidArgument).
// `logged` is false when no client series exist in the range: no source
// logged $http_user_agent there, so the dimension is absent (JSON "logged":
// false, "clients": [] and a note), never a list of zeros.
struct ClientsAnswer {
  AnswerRange range;
  QueryFilter filter;
  bool logged = false;
  uint64_t total_requests = 0;  // of the filtered endpoint/customer, or all
  uint64_t client_count = 0;    // clients with requests, before the limit
  int64_t limit = 0;
  std::vector<ClientRow> rows;
  AnswerQuality quality;
  bool no_data() const { return rows.empty(); }
};

enum class HeatmapMetric { kP99, kP95, kP50, kRequests, kErrorRate };
std::string_view HeatmapMetricName(HeatmapMetric metric);

// GET /api/v1/heatmap: endpoints × hour/day columns of one metric
// (query/heatmap.h).
struct HeatmapAnswer {
  int64_t from_s = 0, to_s = 0, requested_from_s = 0, requested_to_s = 0;
  int64_t step_s = 0;
  HeatmapMetric metric = HeatmapMetric::kRequests;
  int64_t limit = 0;
  std::vector<std::string> endpoints;  // rows
  std::vector<int64_t> times;          // columns' starts
  // cells[row][col]: ms for percentiles, a count for requests, a rate in
  // 0..1 (6 decimals) for error_rate; empty when the cell has no requests
  // (or, for a percentile, no latencies).
  std::vector<std::vector<std::optional<double>>> cells;
  AnswerQuality quality;
};

}  // namespace apimeter

#include "query/query_engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "common/time_util.h"
#include "query/heatmap.h"
#include "query/redis_reads.h"
#include "query/top_n.h"

namespace apimeter {

namespace {

Status CheckLimit(int64_t limit) {
  if (limit < 1 || limit > QueryEngine::kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " +
                                   std::to_string(QueryEngine::kMaxLimit) + " (got " +
                                   std::to_string(limit) + ")");
  }
  return Status::Ok();
}

AnswerRange AnswerRangeOf(const RangePlan& plan) {
  return AnswerRange{plan.from_s, plan.to_s, plan.requested_from_s, plan.requested_to_s,
                     plan.Adjusted(), plan.runs};
}

}  // namespace

Result<FilterSeries> SeriesForFilter(const QueryFilter& f) {
  if (!f.host.empty()) {
    if (!f.endpoint.empty() || !f.customer.empty()) {
      return Status::InvalidArgument(
          "filter host cannot be combined with endpoint/customer; per-host series are totals "
          "only");
    }
    return FilterSeries{SeriesKind::kHost, f.host};
  }
  if (!f.customer.empty() && !f.endpoint.empty()) {
    return FilterSeries{SeriesKind::kCustomerEndpoint,
                        f.customer + std::string(1, kNameSeparator) + f.endpoint};
  }
  if (!f.customer.empty()) return FilterSeries{SeriesKind::kCustomer, f.customer};
  if (!f.endpoint.empty()) return FilterSeries{SeriesKind::kEndpoint, f.endpoint};
  return FilterSeries{SeriesKind::kAll, ""};
}

Tier FinestTier(SeriesKind kind) {
  return kind == SeriesKind::kCustomerEndpoint ? Tier::kDay : Tier::kMinute;
}

QueryEngine::QueryEngine(RedisCommands* client, KeySchema schema, RetentionSeconds retention,
                         const Clock* clock)
    : QueryEngine(MakeV1SeriesStore(client, std::move(schema)), retention, clock) {}

QueryEngine::QueryEngine(std::unique_ptr<SeriesStore> store, RetentionSeconds retention,
                         const Clock* clock)
    : store_(std::move(store)), retention_(retention), clock_(clock) {}

Status QueryEngine::Begin() {
  damage_.clear();
  if (!schema_checked_) {
    APIMETER_RETURN_IF_ERROR(store_->CheckSchema(clock_->NowSeconds(), retention_));
    schema_checked_ = true;
  }
  return Status::Ok();
}

AnswerQuality QueryEngine::Quality(Tier resolution) const {
  return AnswerQuality{resolution, std::vector<std::string>(damage_.begin(), damage_.end())};
}

Result<RangePlan> QueryEngine::Plan(const QueryParams& p, Tier finest) const {
  return PlanRange(p.from_s, p.to_s, retention_, clock_->NowSeconds(), finest);
}

Result<RangePlan> QueryEngine::PlanSeries(SeriesKind kind, int64_t from_s, int64_t to_s) const {
  return PlanRange(from_s, to_s, retention_, clock_->NowSeconds(), FinestTier(kind));
}

Result<std::vector<Rollup>> QueryEngine::FetchSeries(const std::vector<FilterSeries>& series,
                                                     const std::vector<BucketRun>& runs,
                                                     bool with_max) {
  std::vector<BucketRead> reads;
  for (size_t s = 0; s < series.size(); ++s) AppendReads(s, s, runs, &reads);
  std::vector<Rollup> out(series.size());
  APIMETER_RETURN_IF_ERROR(store_->ReadRollups(series, reads, with_max, &out, &damage_));
  return out;
}

Result<Rollup> QueryEngine::SeriesTotal(SeriesKind kind, std::string_view name, int64_t from_s,
                                        int64_t to_s) {
  APIMETER_RETURN_IF_ERROR(Begin());
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, PlanSeries(kind, from_s, to_s));
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> rollups,
                            FetchSeries({FilterSeries{kind, std::string(name)}}, plan.runs, true));
  return std::move(rollups[0]);
}

Result<std::vector<uint64_t>> QueryEngine::SeriesRequests(std::vector<FilterSeries> series,
                                                         int64_t from_s, int64_t to_s) {
  APIMETER_RETURN_IF_ERROR(Begin());
  Tier finest = Tier::kMinute;
  for (FilterSeries& s : series) {
    s.requests_only = true;
    if (FinestTier(s.kind) == Tier::kDay) finest = Tier::kDay;
  }
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan,
                            PlanRange(from_s, to_s, retention_, clock_->NowSeconds(), finest));
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> rollups, FetchSeries(series, plan.runs, false));
  std::vector<uint64_t> out;
  out.reserve(rollups.size());
  for (const Rollup& r : rollups) out.push_back(r.requests);
  return out;
}

Result<OverviewAnswer> QueryEngine::Overview(const QueryParams& p) {
  APIMETER_RETURN_IF_ERROR(Begin());
  APIMETER_ASSIGN_OR_RETURN(FilterSeries series, SeriesForFilter(p.filter));
  const Tier finest = FinestTier(series.kind);
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, finest));
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> rollups, FetchSeries({series}, plan.runs, true));
  const Rollup& r = rollups[0];
  const int64_t now = clock_->NowSeconds();
  const int64_t seconds = std::min(plan.to_s, now) - plan.from_s;
  OverviewAnswer a;
  a.range = AnswerRangeOf(plan);
  a.filter = p.filter;
  a.requests = r.requests;
  a.errors_4xx = r.StatusRange(400, 499);
  a.errors_5xx = r.StatusRange(500, 599);
  a.error_rate = RoundedRatio(static_cast<double>(a.errors_4xx + a.errors_5xx),
                              static_cast<double>(r.requests), 6);
  a.status.insert(r.status_counts.begin(), r.status_counts.end());
  std::erase_if(a.status, [](const auto& code_n) { return code_n.second == 0; });
  for (int c = 1; c <= 5; ++c) a.status_class[c - 1] = r.StatusRange(c * 100, c * 100 + 99);
  a.latency_ms = SummarizeLatency(r);
  a.latency_count = r.latency_count;
  a.bytes_in = r.bytes_in;
  a.bytes_out = r.bytes_out;
  a.rejected = r.rejected;
  if (seconds > 0) {
    a.rps = RoundedRatio(static_cast<double>(r.requests), static_cast<double>(seconds), 3);
  }
  a.rps_seconds = std::max<int64_t>(seconds, 0);
  a.quality = Quality(finest);
  return a;
}

Result<std::vector<std::string>> QueryEngine::TopNames(const std::vector<BucketRun>& runs,
                                                       IndexKind index, const std::string& customer,
                                                       int64_t limit) {
  const size_t n = limit == std::numeric_limits<int64_t>::max() ? SIZE_MAX
                                                                : static_cast<size_t>(limit);
  APIMETER_ASSIGN_OR_RETURN(std::vector<ScoredName> top,
                            store_->TopNames(runs, index, customer, n, &last_top_n_, &damage_));
  std::vector<std::string> names;
  names.reserve(top.size());
  for (ScoredName& s : top) names.push_back(std::move(s.name));
  return names;
}

Result<TopListAnswer> QueryEngine::TopList(const QueryParams& p, bool customers) {
  APIMETER_RETURN_IF_ERROR(Begin());
  APIMETER_RETURN_IF_ERROR(CheckLimit(p.limit));
  const QueryFilter& f = p.filter;
  const char* what = customers ? "customers" : "endpoints";  // for messages
  if (!f.host.empty()) {
    return Status::InvalidArgument(std::string("filter host cannot be used with ") + what +
                                   "; per-host series are totals only");
  }
  if (customers && !f.endpoint.empty()) {
    return Status::InvalidArgument(
        "filter endpoint cannot be used with customers: there is no per-endpoint customer "
        "index; query endpoints with filter customer instead");
  }
  // A customer's endpoints come from its ice index and ce series, which
  // exist per UTC day only.
  const Tier finest = !customers && !f.customer.empty() ? Tier::kDay : Tier::kMinute;
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, finest));

  // The share's denominator: the customer's own total when endpoints are
  // listed for one customer, else all requests.
  std::vector<FilterSeries> series;
  if (!customers && !f.customer.empty()) {
    series.push_back({SeriesKind::kCustomer, f.customer, /*requests_only=*/true});
  } else {
    series.push_back({SeriesKind::kAll, "", /*requests_only=*/true});
  }
  std::vector<std::string> names;
  if (customers && !f.customer.empty()) {
    names = {f.customer};
  } else if (!customers && !f.endpoint.empty()) {
    names = {f.endpoint};
  } else {
    const IndexKind index = customers ? IndexKind::kCustomers : IndexKind::kEndpoints;
    APIMETER_ASSIGN_OR_RETURN(names, TopNames(plan.runs, index, f.customer, p.limit));
  }
  for (const std::string& name : names) {
    if (customers) {
      series.push_back({SeriesKind::kCustomer, name});
    } else if (!f.customer.empty()) {
      series.push_back(
          {SeriesKind::kCustomerEndpoint, f.customer + std::string(1, kNameSeparator) + name});
    } else {
      series.push_back({SeriesKind::kEndpoint, name});
    }
  }
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> rollups, FetchSeries(series, plan.runs, true));

  TopListAnswer a;
  a.of = customers ? TopListAnswer::Of::kCustomers : TopListAnswer::Of::kEndpoints;
  a.range = AnswerRangeOf(plan);
  a.filter = f;
  a.total_requests = rollups[0].requests;
  a.limit = p.limit;
  const double total = static_cast<double>(a.total_requests);
  for (size_t i = 0; i < names.size(); ++i) {
    const Rollup& r = rollups[i + 1];
    if (r.requests == 0) continue;  // a filtered name with no traffic in the range
    TopRow row;
    row.name = std::move(names[i]);
    row.requests = r.requests;
    row.share = RoundedRatio(static_cast<double>(r.requests), total, 6);
    row.errors_4xx = r.StatusRange(400, 499);
    row.errors_5xx = r.StatusRange(500, 599);
    row.error_rate = RoundedRatio(static_cast<double>(row.errors_4xx + row.errors_5xx),
                                  static_cast<double>(r.requests), 6);
    row.latency_ms = SummarizeLatency(r);
    row.bytes_in = r.bytes_in;
    row.bytes_out = r.bytes_out;
    a.rows.push_back(std::move(row));
  }
  a.quality = Quality(finest);
  return a;
}

Result<std::vector<std::string>> QueryEngine::CustomerNames(const QueryParams& p) {
  APIMETER_RETURN_IF_ERROR(Begin());
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, Tier::kMinute));
  return TopNames(plan.runs, IndexKind::kCustomers, "", std::numeric_limits<int64_t>::max());
}

Result<TopListAnswer> QueryEngine::Endpoints(const QueryParams& p) { return TopList(p, false); }
Result<TopListAnswer> QueryEngine::Customers(const QueryParams& p) { return TopList(p, true); }

Result<SeriesAnswer> QueryEngine::Timeseries(const QueryParams& p) {
  APIMETER_RETURN_IF_ERROR(Begin());
  APIMETER_ASSIGN_OR_RETURN(FilterSeries series, SeriesForFilter(p.filter));
  const Tier finest = FinestTier(series.kind);
  Result<TimeseriesPlan> planned =
      PlanTimeseries(p.from_s, p.to_s, p.step_s, retention_, clock_->NowSeconds(), finest);
  if (!planned.ok() && finest != Tier::kMinute) {
    return planned.status().WithContext(
        "filter customer + endpoint (customer \u00d7 endpoint series)");
  }
  APIMETER_ASSIGN_OR_RETURN(TimeseriesPlan plan, std::move(planned));
  std::vector<BucketRead> reads;
  for (size_t i = 0; i < plan.points.size(); ++i) AppendReads(i, 0, plan.points[i].runs, &reads);
  std::vector<Rollup> rollups(plan.points.size());
  APIMETER_RETURN_IF_ERROR(store_->ReadRollups({series}, reads, false, &rollups, &damage_));

  SeriesAnswer a;
  a.from_s = plan.from_s;
  a.to_s = plan.to_s;
  a.requested_from_s = plan.requested_from_s;
  a.requested_to_s = plan.requested_to_s;
  a.step_s = plan.step_s;
  a.step_chosen = plan.step_chosen;
  a.filter = p.filter;
  a.points.reserve(plan.points.size());
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const Rollup& r = rollups[i];
    a.points.push_back({plan.points[i].t, r.requests, r.StatusRange(400, 499),
                        r.StatusRange(500, 599), r.bytes_out,
                        OptionalMs(r.histogram.PercentileMicros(50)),
                        OptionalMs(r.histogram.PercentileMicros(95)),
                        OptionalMs(r.histogram.PercentileMicros(99))});
  }
  a.quality = Quality(finest);
  return a;
}

Result<HeatmapAnswer> QueryEngine::Heatmap(const QueryParams& p, std::string_view metric) {
  APIMETER_RETURN_IF_ERROR(Begin());
  HeatmapReader reader;
  reader.top_endpoints = [this](const std::vector<BucketRun>& runs, int64_t limit) {
    return TopNames(runs, IndexKind::kEndpoints, "", limit);
  };
  reader.read_cells = [this](
                          const std::vector<std::string>& endpoints,
                          const std::vector<SeriesPoint>& points) -> Result<std::vector<Rollup>> {
    std::vector<FilterSeries> series;
    std::vector<BucketRead> reads;
    for (size_t e = 0; e < endpoints.size(); ++e) {
      series.push_back({SeriesKind::kEndpoint, endpoints[e]});
      for (size_t i = 0; i < points.size(); ++i) {
        AppendReads(e * points.size() + i, e, points[i].runs, &reads);
      }
    }
    std::vector<Rollup> cells(endpoints.size() * points.size());
    APIMETER_RETURN_IF_ERROR(store_->ReadRollups(series, reads, false, &cells, &damage_));
    return cells;
  };
  APIMETER_ASSIGN_OR_RETURN(HeatmapAnswer a,
                            BuildHeatmap(p, metric, retention_, clock_->NowSeconds(), reader));
  a.quality = Quality(Tier::kMinute);
  return a;
}

Result<SlowAnswer> QueryEngine::Slow(const QueryParams& p) {
  APIMETER_RETURN_IF_ERROR(Begin());
  APIMETER_RETURN_IF_ERROR(CheckLimit(p.limit));
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, Tier::kMinute));
  // Slow requests carry their exact time, so the requested range is applied
  // as is, only clipped to the oldest retained day.
  const int64_t from_s = std::max(p.from_s, plan.from_s);
  const int64_t to_s = p.to_s;
  const int64_t first_day = FloorDiv(from_s, 86400), last_day = CeilDiv(to_s, 86400);
  const QueryFilter& f = p.filter;

  std::vector<SlowRequest> top;
  uint64_t malformed = 0;
  auto before = [](const SlowRequest& x, const SlowRequest& y) {
    return x.latency_us != y.latency_us ? x.latency_us > y.latency_us : x.time_us < y.time_us;
  };
  const size_t limit = static_cast<size_t>(p.limit);
  auto each = [&](SlowRequest&& s) {
    if (s.time_us < from_s * kMicrosPerSecond || s.time_us >= to_s * kMicrosPerSecond) return;
    if ((!f.host.empty() && s.host != f.host) ||
        (!f.endpoint.empty() && s.endpoint != f.endpoint) ||
        (!f.customer.empty() && s.customer != f.customer)) {
      return;
    }
    top.push_back(std::move(s));
    // Keep only the best `limit`, so memory stays bounded by the answer.
    if (top.size() >= 2 * limit + 64) {
      std::partial_sort(top.begin(), top.begin() + p.limit, top.end(), before);
      top.resize(limit);
    }
  };
  APIMETER_RETURN_IF_ERROR(store_->ReadSlow(first_day, last_day, each, &malformed));
  if (top.size() > limit) {
    std::partial_sort(top.begin(), top.begin() + p.limit, top.end(), before);
    top.resize(limit);
  }
  std::sort(top.begin(), top.end(), before);

  SlowAnswer a;
  a.from_s = from_s;
  a.to_s = to_s;
  a.filter = f;
  a.limit = p.limit;
  a.malformed = malformed;
  a.requests = std::move(top);
  return a;
}

}  // namespace apimeter

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
#include "query/json_format.h"
#include "query/redis_reads.h"
#include "query/top_n.h"

namespace apimeter {

using nlohmann::json;
using query_json::Iso;
using query_json::Utf8;
using query_reads::ParseScore;
using query_reads::ReplyError;
using query_reads::RunChunked;

namespace {

// Slow-request sets are trimmed to slow_top_n by the writer; this caps what a
// reader takes from one day even if a set was never trimmed.
constexpr int64_t kMaxSlowPerDay = 10000;

Status CheckLimit(int64_t limit) {
  if (limit < 1 || limit > QueryEngine::kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " +
                                   std::to_string(QueryEngine::kMaxLimit) + " (got " +
                                   std::to_string(limit) + ")");
  }
  return Status::Ok();
}

json PlanJson(const std::vector<BucketRun>& runs) {
  json plan = json::array();
  for (const BucketRun& r : runs) {
    plan.push_back({{"tier", std::string(TierName(r.tier))},
                    {"from", Iso(r.FromSeconds())},
                    {"to", Iso(r.ToSeconds())},
                    {"buckets", r.Count()}});
  }
  return plan;
}

json FilterJson(const QueryFilter& f) {
  json j = json::object();
  if (!f.host.empty()) j["host"] = Utf8(f.host);
  if (!f.endpoint.empty()) j["endpoint"] = Utf8(f.endpoint);
  if (!f.customer.empty()) j["customer"] = Utf8(f.customer);
  return j;
}

// The fields every range answer starts with.
json RangeHeader(const RangePlan& plan, const QueryFilter& filter) {
  return {{"from", Iso(plan.from_s)},
          {"to", Iso(plan.to_s)},
          {"requested_from", Iso(plan.requested_from_s)},
          {"requested_to", Iso(plan.requested_to_s)},
          {"adjusted", plan.Adjusted()},
          {"plan", PlanJson(plan.runs)},
          {"filter", FilterJson(filter)}};
}

// Marks an answer that reads series kept only at a coarser tier than the
// minute, and says why its range is wider. Minute answers stay unchanged.
void AddResolution(Tier finest, json* j) {
  if (finest == Tier::kMinute) return;
  (*j)["resolution"] = std::string(TierName(finest));
  (*j)["note"] =
      "customer \u00d7 endpoint series are stored per UTC day only: the answer covers whole UTC "
      "days";
}

struct BucketRead {
  size_t group;  // which output rollup the bucket adds into
  size_t series;
  Tier tier;
  int64_t bucket;
};

void AppendReads(size_t group, size_t series, const std::vector<BucketRun>& runs,
                 std::vector<BucketRead>* reads) {
  for (const BucketRun& run : runs) {
    for (int64_t b = run.first; b < run.last; ++b) reads->push_back({group, series, run.tier, b});
  }
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
    : client_(client), schema_(std::move(schema)), retention_(retention), clock_(clock) {}

Result<RangePlan> QueryEngine::Plan(const QueryParams& p, Tier finest) const {
  return PlanRange(p.from_s, p.to_s, retention_, clock_->NowSeconds(), finest);
}

Result<RangePlan> QueryEngine::PlanSeries(SeriesKind kind, int64_t from_s, int64_t to_s) const {
  return PlanRange(from_s, to_s, retention_, clock_->NowSeconds(), FinestTier(kind));
}

// One ZMSCORE: the max scores of several series in one (tier, bucket, shard)
// max set. `reads` index the BucketReads whose series are asked, in order.
struct MaxRead {
  Tier tier;
  int64_t bucket;
  int shard;
  std::vector<size_t> reads;
};

// Groups the (series, bucket) reads by the max set holding their score, at
// most QueryEngine::kMaxScoresPerCommand members per command. Deterministic
// order (tier, bucket, shard).
static std::vector<MaxRead> GroupMaxReads(const std::vector<BucketRead>& reads,
                                          const std::vector<int>& shard_of_series) {
  std::map<std::tuple<int, int64_t, int>, std::vector<size_t>> by_set;
  for (size_t i = 0; i < reads.size(); ++i) {
    const BucketRead& r = reads[i];
    if (shard_of_series[r.series] < 0) continue;  // requests only: no max
    by_set[{static_cast<int>(r.tier), r.bucket, shard_of_series[r.series]}].push_back(i);
  }
  std::vector<MaxRead> out;
  for (auto& [key, members] : by_set) {
    const auto& [tier, bucket, shard] = key;
    for (size_t k = 0; k < members.size(); k += QueryEngine::kMaxScoresPerCommand) {
      const size_t end = std::min(members.size(), k + QueryEngine::kMaxScoresPerCommand);
      out.push_back({static_cast<Tier>(tier), bucket, shard,
                     std::vector<size_t>(members.begin() + static_cast<std::ptrdiff_t>(k),
                                         members.begin() + static_cast<std::ptrdiff_t>(end))});
    }
  }
  return out;
}

// Reads HGETALL of every (series, bucket) and, with_max, the max scores with
// one ZMSCORE per (tier, bucket, shard) max set, all in the same pipelined
// chunks; merges them per group.
static Status ReadBuckets(RedisCommands* client, const KeySchema& schema,
                          const std::vector<FilterSeries>& series,
                          const std::vector<BucketRead>& reads, bool with_max,
                          std::vector<Rollup>* groups) {
  std::vector<std::string> members;
  std::vector<int> shards;
  members.reserve(series.size());
  shards.reserve(series.size());
  for (const auto& s : series) {
    members.push_back(KeySchema::MemberId(s.kind, s.name));
    shards.push_back(s.requests_only ? -1 : KeySchema::ShardOf(s.kind, s.name));
  }
  const std::vector<MaxRead> max_reads =
      with_max ? GroupMaxReads(reads, shards) : std::vector<MaxRead>();
  auto make = [&](size_t i) -> RedisArgs {
    if (i < reads.size()) {
      const BucketRead& r = reads[i];
      const FilterSeries& s = series[r.series];
      std::string key = schema.SeriesKey(r.tier, r.bucket, s.kind, s.name);
      if (s.requests_only) return {"HGET", std::move(key), "n"};
      return {"HGETALL", std::move(key)};
    }
    const MaxRead& m = max_reads[i - reads.size()];
    RedisArgs args{"ZMSCORE", schema.MaxKey(m.tier, m.bucket, m.shard)};
    for (size_t read : m.reads) args.push_back(members[reads[read].series]);
    return args;
  };
  auto handle_max = [&](const MaxRead& m, const RedisReply& reply) -> Status {
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() != m.reads.size()) {
      return Status::ParseError("query: ZMSCORE " + schema.MaxKey(m.tier, m.bucket, m.shard) +
                                " did not return one score per member");
    }
    for (size_t k = 0; k < m.reads.size(); ++k) {
      const RedisReply& score_reply = reply.elements[k];
      if (score_reply.is_nil()) continue;  // no latency logged for that series there
      const BucketRead& r = reads[m.reads[k]];
      double score = 0;
      if (!ParseScore(score_reply.str, &score) || score < 0) {
        return Status::ParseError("query: max score '" + score_reply.str + "' of " +
                                  members[r.series] + " is not a latency");
      }
      Rollup& out = (*groups)[r.group];
      out.latency_max_us = std::max<int64_t>(out.latency_max_us, std::llround(score));
    }
    return Status::Ok();
  };
  auto handle = [&](size_t i, const RedisReply& reply) -> Status {
    if (reply.is_error()) return ReplyError(reply, make(i));
    if (i >= reads.size()) return handle_max(max_reads[i - reads.size()], reply);
    if (series[reads[i].series].requests_only) {
      if (reply.is_nil()) return Status::Ok();
      double n = 0;
      if (!ParseScore(reply.str, &n) || n < 0 || n != std::floor(n)) {
        return Status::ParseError("query: field n of " + make(i)[1] + " is not a count");
      }
      (*groups)[reads[i].group].requests += static_cast<uint64_t>(n);
      return Status::Ok();
    }
    Status st = DecodeRollupFields(reply, &(*groups)[reads[i].group]);
    return st.ok() ? st : st.WithContext(make(i)[1]);
  };
  return RunChunked(client, reads.size() + max_reads.size(), QueryEngine::kPipelineChunk, make,
                    handle);
}

Result<std::vector<Rollup>> QueryEngine::FetchSeries(const std::vector<FilterSeries>& series,
                                                     const std::vector<BucketRun>& runs,
                                                     bool with_max) {
  std::vector<BucketRead> reads;
  for (size_t s = 0; s < series.size(); ++s) AppendReads(s, s, runs, &reads);
  std::vector<Rollup> out(series.size());
  APIMETER_RETURN_IF_ERROR(ReadBuckets(client_, schema_, series, reads, with_max, &out));
  return out;
}

Result<Rollup> QueryEngine::SeriesTotal(SeriesKind kind, std::string_view name, int64_t from_s,
                                        int64_t to_s) {
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, PlanSeries(kind, from_s, to_s));
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> rollups,
                            FetchSeries({FilterSeries{kind, std::string(name)}}, plan.runs, true));
  return std::move(rollups[0]);
}

Result<std::vector<uint64_t>> QueryEngine::SeriesRequests(std::vector<FilterSeries> series,
                                                         int64_t from_s, int64_t to_s) {
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

Result<json> QueryEngine::Overview(const QueryParams& p) {
  APIMETER_ASSIGN_OR_RETURN(FilterSeries series, SeriesForFilter(p.filter));
  const Tier finest = FinestTier(series.kind);
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, finest));
  APIMETER_ASSIGN_OR_RETURN(std::vector<Rollup> rollups, FetchSeries({series}, plan.runs, true));
  const Rollup& r = rollups[0];
  const uint64_t e4 = r.StatusRange(400, 499), e5 = r.StatusRange(500, 599);
  const int64_t now = clock_->NowSeconds();
  const int64_t seconds = std::min(plan.to_s, now) - plan.from_s;
  json j = RangeHeader(plan, p.filter);
  j["requests"] = r.requests;
  j["errors_4xx"] = e4;
  j["errors_5xx"] = e5;
  j["error_rate"] =
      query_json::Ratio(static_cast<double>(e4 + e5), static_cast<double>(r.requests), 6);
  j["status"] = query_json::StatusCodes(r);
  j["status_class"] = query_json::StatusClasses(r);
  j["latency_ms"] = query_json::LatencyMs(r);
  j["latency_count"] = r.latency_count;
  j["bytes_in"] = r.bytes_in;
  j["bytes_out"] = r.bytes_out;
  j["rejected"] = r.rejected;
  j["rps"] = seconds <= 0 ? json(nullptr)
                          : query_json::Ratio(static_cast<double>(r.requests),
                                              static_cast<double>(seconds), 3);
  j["rps_seconds"] = std::max<int64_t>(seconds, 0);
  AddResolution(finest, &j);
  return j;
}

Result<std::vector<std::string>> QueryEngine::TopNames(const std::vector<BucketRun>& runs,
                                                       IndexKind index, const std::string& customer,
                                                       int64_t limit) {
  // One key per bucket for a customer's endpoints (it lives in the customer's
  // shard); otherwise one per shard per bucket.
  const size_t per_bucket = customer.empty() ? KeySchema::kShards : 1;
  std::vector<std::vector<std::string>> groups(per_bucket);
  for (const BucketRun& run : runs) {
    for (int64_t b = run.first; b < run.last; ++b) {
      for (size_t g = 0; g < per_bucket; ++g) {
        groups[g].push_back(customer.empty()
                                ? schema_.IndexKey(run.tier, b, static_cast<int>(g), index)
                                : schema_.CustomerEndpointIndexKey(run.tier, b, customer));
      }
    }
  }
  const size_t n = limit == std::numeric_limits<int64_t>::max() ? SIZE_MAX
                                                                : static_cast<size_t>(limit);
  APIMETER_ASSIGN_OR_RETURN(std::vector<ScoredName> top,
                            SummedTopN(client_, groups, n, &last_top_n_));
  std::vector<std::string> names;
  names.reserve(top.size());
  for (ScoredName& s : top) names.push_back(std::move(s.name));
  return names;
}

Result<json> QueryEngine::TopList(const QueryParams& p, bool customers) {
  APIMETER_RETURN_IF_ERROR(CheckLimit(p.limit));
  const QueryFilter& f = p.filter;
  const char* what = customers ? "customers" : "endpoints";
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

  const double total = static_cast<double>(rollups[0].requests);
  json rows = json::array();
  for (size_t i = 0; i < names.size(); ++i) {
    const Rollup& r = rollups[i + 1];
    if (r.requests == 0) continue;  // a filtered name with no traffic in the range
    const uint64_t e4 = r.StatusRange(400, 499), e5 = r.StatusRange(500, 599);
    rows.push_back({{customers ? "customer" : "endpoint", Utf8(names[i])},
                    {"requests", r.requests},
                    {"share", query_json::Ratio(static_cast<double>(r.requests), total, 6)},
                    {"errors_4xx", e4},
                    {"errors_5xx", e5},
                    {"error_rate", query_json::Ratio(static_cast<double>(e4 + e5),
                                                     static_cast<double>(r.requests), 6)},
                    {"latency_ms", query_json::LatencyMs(r)},
                    {"bytes_in", r.bytes_in},
                    {"bytes_out", r.bytes_out}});
  }
  json j = RangeHeader(plan, f);
  j["total_requests"] = rollups[0].requests;
  j["limit"] = p.limit;
  j[what] = std::move(rows);
  AddResolution(finest, &j);
  return j;
}

Result<std::vector<std::string>> QueryEngine::CustomerNames(const QueryParams& p) {
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, Tier::kMinute));
  return TopNames(plan.runs, IndexKind::kCustomers, "", std::numeric_limits<int64_t>::max());
}

Result<json> QueryEngine::Endpoints(const QueryParams& p) { return TopList(p, false); }
Result<json> QueryEngine::Customers(const QueryParams& p) { return TopList(p, true); }

Result<json> QueryEngine::Timeseries(const QueryParams& p) {
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
  APIMETER_RETURN_IF_ERROR(ReadBuckets(client_, schema_, {series}, reads, false, &rollups));

  json points = json::array();
  for (size_t i = 0; i < plan.points.size(); ++i) {
    const Rollup& r = rollups[i];
    points.push_back({{"t", Iso(plan.points[i].t)},
                      {"requests", r.requests},
                      {"errors_4xx", r.StatusRange(400, 499)},
                      {"errors_5xx", r.StatusRange(500, 599)},
                      {"bytes_out", r.bytes_out},
                      {"p50", query_json::OptionalMs(r.histogram.PercentileMicros(50))},
                      {"p95", query_json::OptionalMs(r.histogram.PercentileMicros(95))},
                      {"p99", query_json::OptionalMs(r.histogram.PercentileMicros(99))}});
  }
  json j{{"from", Iso(plan.from_s)},
         {"to", Iso(plan.to_s)},
         {"requested_from", Iso(plan.requested_from_s)},
         {"requested_to", Iso(plan.requested_to_s)},
         {"step_s", plan.step_s},
         {"step_chosen", plan.step_chosen},
         {"filter", FilterJson(p.filter)},
         {"points", std::move(points)}};
  AddResolution(finest, &j);
  return j;
}

Result<json> QueryEngine::Heatmap(const QueryParams& p, std::string_view metric) {
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
    APIMETER_RETURN_IF_ERROR(ReadBuckets(client_, schema_, series, reads, false, &cells));
    return cells;
  };
  return BuildHeatmap(p, metric, retention_, clock_->NowSeconds(), reader);
}

Result<json> QueryEngine::Slow(const QueryParams& p) {
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
  auto make = [&](size_t i) -> RedisArgs {
    return {"ZREVRANGE", schema_.SlowKey(first_day + static_cast<int64_t>(i)), "0",
            std::to_string(kMaxSlowPerDay - 1), "WITHSCORES"};
  };
  auto handle = [&](size_t i, const RedisReply& reply) -> Status {
    if (reply.is_error()) return ReplyError(reply, make(i));
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() % 2 != 0) {
      return Status::ParseError("query: " + make(i)[1] + " is not a sorted set");
    }
    for (size_t k = 0; k + 1 < reply.elements.size(); k += 2) {
      double score = 0;
      SlowRequest s;
      if (!ParseScore(reply.elements[k + 1].str, &score) ||
          !DecodeSlowMember(reply.elements[k].str, std::llround(score), &s)) {
        ++malformed;
        continue;
      }
      if (s.time_us < from_s * kMicrosPerSecond || s.time_us >= to_s * kMicrosPerSecond) continue;
      if ((!f.host.empty() && s.host != f.host) ||
          (!f.endpoint.empty() && s.endpoint != f.endpoint) ||
          (!f.customer.empty() && s.customer != f.customer)) {
        continue;
      }
      top.push_back(std::move(s));
    }
    // Keep only the best `limit`, so memory stays bounded by the answer.
    if (top.size() > static_cast<size_t>(p.limit)) {
      std::partial_sort(top.begin(), top.begin() + p.limit, top.end(), before);
      top.resize(static_cast<size_t>(p.limit));
    }
    return Status::Ok();
  };
  APIMETER_RETURN_IF_ERROR(
      RunChunked(client_, static_cast<size_t>(last_day - first_day), kPipelineChunk, make, handle));
  std::sort(top.begin(), top.end(), before);

  json rows = json::array();
  for (const SlowRequest& s : top) {
    rows.push_back({{"time", Iso(FloorDiv(s.time_us, kMicrosPerSecond))},
                    {"time_us", s.time_us},
                    {"endpoint", Utf8(s.endpoint)},
                    {"customer", Utf8(s.customer)},
                    {"status", s.status},
                    {"latency_ms", query_json::MicrosToMs(static_cast<double>(s.latency_us))},
                    {"host", Utf8(s.host)}});
  }
  return json{{"from", Iso(from_s)}, {"to", Iso(to_s)},        {"filter", FilterJson(f)},
              {"limit", p.limit},    {"malformed", malformed}, {"requests", std::move(rows)}};
}

}  // namespace apimeter

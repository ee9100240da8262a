// QueryEngine: the read side. Answers overview / endpoints / customers /
// timeseries / slow / heatmap questions from the aggregates in Redis as typed
// answers (query/answers.h). Their JSON, the API contract of docs/api.md for
// both `apimeter query --json` and the HTTP API, is written at the edges by
// server/answer_json.h; report/ and alerts/ read the structs.
//
// Promise: numbers are exact sums of whole buckets over the effective range
// each answer reports (range.from_s/to_s; see query/range_plan.h for how a
// requested range becomes that range); percentiles are nearest-rank from the
// merged latency histogram (within 1% of the exact value). A value that
// cannot be computed (no requests, no latencies) is an empty optional (JSON
// null), never 0. Bad parameters give InvalidArgument naming the parameter;
// Redis trouble gives Unavailable; a hash that does not match the schema
// gives ParseError. Keys are built only through KeySchema and never
// discovered with KEYS or SCAN. Reads are pipelined in bounded chunks, so
// memory grows with the answer and the number of distinct names in the
// range, not with the data stored.
//
// Day resolution: customer × endpoint series (and the per-customer endpoint
// index) are written at the day tier only. Every answer that reads them —
// overview/timeseries/SeriesTotal for customer + endpoint, endpoints with a
// customer filter — covers whole UTC days: the range is rounded outward to
// day boundaries (reported in the range and plan) and the answer's
// quality.resolution is kDay (JSON "resolution": "day" and a "note" saying
// why). Other answers have kMinute (no "resolution" field).
// Storage: the engine plans and computes; a SeriesStore
// (query/series_store.h) does the reads, v1 or v2. Before its first read the
// engine lets the store check the schema (v2: the P:schema marker,
// read-only). With v2 a block that fails its checks is left out and the
// answer says so: quality.damaged lists the block keys and quality.partial()
// is true (JSON "partial": true, "damaged": [...], docs/api.md);
// last_damaged() names them for SeriesTotal/SeriesRequests/CustomerNames.
// Thread-safety: not thread-safe (it drives one Redis client); use one engine
// per thread. The client (or store) and clock must outlive the engine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aggregator/rollup.h"
#include "common/clock.h"
#include "common/result.h"
#include "query/answers.h"
#include "query/endpoint_customers.h"
#include "query/range_plan.h"
#include "query/series_store.h"
#include "query/top_n.h"
#include "sink/redis_client.h"
#include "sink/schema.h"

namespace apimeter {

struct QueryParams {
  int64_t from_s = 0, to_s = 0;  // [from, to) epoch seconds
  QueryFilter filter;
  int64_t limit = 20;  // top-N for endpoints/customers/slow, 1..1000
  int64_t step_s = 0;  // timeseries step; 0 = choose from the range
};

// The series overview and timeseries read for a filter: all, host, endpoint,
// customer or customer × endpoint (FilterSeries: query/series_store.h).
// InvalidArgument when host is combined with endpoint or customer.
Result<FilterSeries> SeriesForFilter(const QueryFilter& filter);

// The finest tier the writer keeps for a kind of series: kDay for customer ×
// endpoint, kMinute for the others. (A schema fact; see docs/redis-schema.md.)
Tier FinestTier(SeriesKind kind);

class QueryEngine {
 public:
  // Commands per pipelined round trip for small replies (hashes, scores).
  static constexpr size_t kPipelineChunk = 1000;
  static constexpr int64_t kMaxLimit = 1000;

  // v1: MakeV1SeriesStore(client, schema).
  QueryEngine(RedisCommands* client, KeySchema schema, RetentionSeconds retention,
              const Clock* clock);
  QueryEngine(std::unique_ptr<SeriesStore> store, RetentionSeconds retention, const Clock* clock);

  Result<OverviewAnswer> Overview(const QueryParams& params);
  Result<TopListAnswer> Endpoints(const QueryParams& params);
  Result<TopListAnswer> Customers(const QueryParams& params);
  // The customers of params.filter.endpoint over whole UTC days, with first
  // and last seen (query/endpoint_customers.h; storage v2).
  Result<EndpointCustomersAnswer> EndpointCustomers(const QueryParams& params);
  // The clients (user agents reduced, issue 18 part 2) over whole UTC
  // days, for all traffic, one endpoint or one customer (ClientsAnswer).
  Result<ClientsAnswer> Clients(const QueryParams& params);
  Result<SeriesAnswer> Timeseries(const QueryParams& params);
  Result<SlowAnswer> Slow(const QueryParams& params);
  // Endpoint × hour/day grid of one metric (query/heatmap.h): metric is p99,
  // p95, p50, requests or error_rate.
  Result<HeatmapAnswer> Heatmap(const QueryParams& params, std::string_view metric);

  // Every customer with requests in the planned range, most requests first
  // (ties by name): the customers answer without its top-N limit, names only.
  // For reports over all customers and cost attribution.
  Result<std::vector<std::string>> CustomerNames(const QueryParams& params);

  // The merged Rollup of one series over the planned range (latency_max_us
  // included), for reports, alerts and the heatmap. name as in SeriesDelta.
  // The range is PlanSeries(kind, from_s, to_s): for customer × endpoint it
  // is rounded outward to whole UTC days.
  Result<Rollup> SeriesTotal(SeriesKind kind, std::string_view name, int64_t from_s, int64_t to_s);
  // The request counts of several series over one range (HGET n per bucket,
  // nothing else): planned once at the finest tier all of them have, so for
  // any customer × endpoint series the range is rounded out to whole UTC days.
  Result<std::vector<uint64_t>> SeriesRequests(std::vector<FilterSeries> series, int64_t from_s,
                                               int64_t to_s);
  // The plan SeriesTotal reads, so a caller can report the range it covers.
  Result<RangePlan> PlanSeries(SeriesKind kind, int64_t from_s, int64_t to_s) const;

  // How the last endpoints/customers answer found its names (query/top_n.h):
  // which path, and how many index commands it took.
  const TopNStats& last_top_n() const { return last_top_n_; }
  // The blocks the last answer left out because they failed their checks
  // (v2; sorted list keys). Empty when the answer was whole.
  const ReadDamage& last_damaged() const { return damage_; }
  const SeriesStore& store() const { return *store_; }

  // Max scores per ZMSCORE: keeps each reply about the size of one hash.
  static constexpr size_t kMaxScoresPerCommand = 128;

 private:
  // Starts an answer: the store's schema check (until it succeeds) and a
  // clean damage list.
  Status Begin();
  // The resolution given and the blocks left out so far.
  AnswerQuality Quality(Tier resolution) const;
  Result<RangePlan> Plan(const QueryParams& params, Tier finest) const;
  // Merges each series over every bucket of `runs`; with_max also gives the
  // latency max.
  Result<std::vector<Rollup>> FetchSeries(const std::vector<FilterSeries>& series,
                                          const std::vector<BucketRun>& runs, bool with_max);
  // The `limit` largest names of an index summed over the plan.
  Result<std::vector<std::string>> TopNames(const std::vector<BucketRun>& runs, IndexKind index,
                                            const std::string& customer, int64_t limit);
  Result<TopListAnswer> TopList(const QueryParams& params, bool customers);

  std::unique_ptr<SeriesStore> store_;
  RetentionSeconds retention_;
  const Clock* clock_;
  TopNStats last_top_n_;
  ReadDamage damage_;
  bool schema_checked_ = false;
};

// Human-readable tables for `apimeter query`, from the answers' JSON
// (server/answer_json.h, server/usage_json.h). kind is
// "overview", "endpoints", "customers", "timeseries", "slow" or
// "endpoint_customers"; any other
// kind, or JSON without the expected shape, renders as indented JSON.
std::string RenderTable(std::string_view kind, const nlohmann::json& result);

}  // namespace apimeter

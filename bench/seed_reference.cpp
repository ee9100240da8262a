// apimeter-seed: writes the reference data set (docs/benchmarks.md) into the
// Redis of a config, through the real write path: synthetic LogRecords go
// into the real Aggregator (one per host), and its FlushBatches go to
// Sink::Flush (v1 or v2, as the config says; v2 compacts each day's closed
// buckets as a backfill does). Nothing is sampled: every synthetic request is added.
//
// Promise: deterministic for a given --seed, --days, --rps and end time
// (--end, default: now rounded down to the hour). One simulated hour is
// aggregated at a time. Minute deltas older than the minute retention are
// dropped before the flush (the sink would drop them anyway), and day-tier
// deltas of a UTC day are merged across its hours and flushed once per day:
// merging deltas is exact (FlushBatch holds additive deltas), and it avoids
// re-writing every customer × endpoint pair once per hour.
// With --bench it then measures query latency (p50/p95 over --repeats runs)
// and prints Redis INFO memory. Single-threaded.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>

#include "agent/backfill.h"
#include "agent/batch_id.h"
#include "agent/runtime.h"
#include "aggregator/aggregator.h"
#include "common/clock.h"
#include "common/time_util.h"
#include "server/answer_json.h"

namespace apimeter {
namespace {

using Seconds = std::chrono::duration<double>;

struct SeedOptions {
  std::string config;
  int days = 35;
  double rps = 500;
  int endpoints = 300;
  int customers = 5000;
  int hosts = 2;
  uint64_t seed = 42;
  int64_t end_s = 0;  // 0 = now rounded down to the hour
  bool bench = false;
  bool skip_seed = false;
  int day_flushes = 1;  // day-tier flushes per day (each day group gets that many blocks)
  int repeats = 20;
  std::string only;  // one query kind (e.g. "customers"); "" = all
};

// Inverse-CDF sampling over precomputed cumulative weights 1/k^s.
class Zipf {
 public:
  Zipf(int n, double s) : cdf_(static_cast<size_t>(n)) {
    double sum = 0;
    for (int k = 0; k < n; ++k) cdf_[static_cast<size_t>(k)] = sum += 1.0 / std::pow(k + 1, s);
    for (double& c : cdf_) c /= sum;
  }
  size_t Sample(std::mt19937_64& rng) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return std::min(
        cdf_.size() - 1,
        static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()));
  }

 private:
  std::vector<double> cdf_;
};

// The synthetic population: endpoints with their own latency profile, and
// customers that each use a few endpoints (as real API clients do).
class Traffic {
 public:
  static constexpr int kEndpointsPerCustomer = 20;

  Traffic(const SeedOptions& o)
      : o_(o),
        rng_(o.seed),
        customer_pick_(o.customers, 1.1),
        favourite_(kEndpointsPerCustomer, 1.0) {
    const char* methods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
    std::lognormal_distribution<double> median(std::log(25000.0), 0.8);
    for (int e = 0; e < o.endpoints; ++e) {
      Endpoint ep;
      ep.method = methods[e % 6];
      ep.path = "/v1/resource" + std::to_string(e) + "/:id";
      ep.name = ep.method + " " + ep.path;
      // Endpoint 7 is the deliberately slow one a heatmap should show.
      ep.median_us = e == 7 ? 900000.0 : median(rng_);
      endpoints_.push_back(std::move(ep));
    }
    for (int c = 0; c < o.customers; ++c) {
      char id[32];
      std::snprintf(id, sizeof id, "k_%012llx",
                    static_cast<unsigned long long>((c + 1) * 0x9E3779B97F4A7C15ULL >> 16));
      customers_.push_back(c == 0 ? "anonymous" : id);
    }
  }

  // Requests of one host in [second, second + 1), `n` of them.
  template <typename Sink>
  void Second(int64_t second, int n, Sink&& add) {
    std::uniform_int_distribution<int64_t> when(0, 999999);
    std::uniform_int_distribution<int> pct(0, 999);
    std::normal_distribution<double> noise(0, 0.6);
    for (int i = 0; i < n; ++i) {
      const size_t c = customer_pick_.Sample(rng_);
      const size_t slot = favourite_.Sample(rng_);
      const size_t e = (c * 97 + slot * 15 + slot * slot) % endpoints_.size();
      const Endpoint& ep = endpoints_[e];
      LogRecord r;
      r.time_us = second * 1000000 + when(rng_);
      r.method = ep.method;
      r.path = ep.path;
      const int p = pct(rng_);
      r.status = p < 940   ? 200
                 : p < 960 ? 201
                 : p < 975 ? 404
                 : p < 990 ? 429
                 : p < 997 ? 500
                           : 503;
      r.bytes_in = 200 + static_cast<uint64_t>(p);
      r.bytes_out = 500 + static_cast<uint64_t>(p) * 37;
      r.latency_us = p == 999 ? -1 : std::llround(ep.median_us * std::exp(noise(rng_)));
      add(r, ep.name, customers_[c]);
    }
  }

 private:
  struct Endpoint {
    std::string method, path, name;
    double median_us;
  };
  const SeedOptions& o_;
  std::mt19937_64 rng_;
  Zipf customer_pick_, favourite_;
  std::vector<Endpoint> endpoints_;
  std::vector<std::string> customers_;
};

// Requests per second at `t`: a diurnal curve averaging to rps.
int RequestsAt(int64_t t, double rps, int host, int hosts) {
  const double phase = 2 * M_PI * static_cast<double>((t % 86400) - 6 * 3600) / 86400.0;
  const double rate = rps * (1 + 0.5 * std::sin(phase)) / hosts;
  // Fractional rates are spread deterministically over seconds.
  const double exact = rate * static_cast<double>(t - host);
  const double before = rate * static_cast<double>(t - host - 1);
  return static_cast<int>(std::floor(exact) - std::floor(before));
}

// Day-tier deltas and slow candidates of one UTC day, merged across flushes.
struct PendingDay {
  std::map<std::tuple<int, std::string>, Rollup> series;  // (kind, name)
  std::vector<SlowRequest> slow;
  int64_t day = -1;
  uint64_t lines = 0;
};

// Flushes in transactions of at most kDayChunk series, so no single EXEC
// outlasts the command timeout; deltas add, so the split changes nothing.
constexpr size_t kDayChunk = 20000;

Status FlushDay(Sink& sink, PendingDay* pending) {
  if (pending->day < 0) return Status::Ok();
  FlushBatch batch;
  batch.host = "seed";
  batch.id = NewBatchId();  // storage v2's idempotency token
  batch.slow = std::move(pending->slow);
  batch.lines = pending->lines;
  for (auto& [key, rollup] : pending->series) {
    batch.series.push_back({Tier::kDay, pending->day, static_cast<SeriesKind>(std::get<0>(key)),
                            std::get<1>(key), std::move(rollup)});
    if (batch.series.size() == kDayChunk) {
      APIMETER_RETURN_IF_ERROR(sink.Flush(batch));
      batch = FlushBatch();
      batch.host = "seed";
      batch.id = NewBatchId();
    }
  }
  *pending = PendingDay();
  if (!batch.Empty()) APIMETER_RETURN_IF_ERROR(sink.Flush(batch));
  // As a backfill does: the day's closed buckets compacted (v2; v1: none).
  uint64_t compacted = 0;
  return CompactWrittenGroups(sink, 256, &compacted);
}

struct SeedStats {
  uint64_t requests = 0, flushes = 0, deltas = 0;
};

Status Seed(const SeedOptions& o, Runtime& rt, int64_t end_s, SeedStats* stats) {
  Traffic traffic(o);
  PendingDay pending;
  const int64_t start_s = end_s - static_cast<int64_t>(o.days) * 86400;
  const int64_t minute_cutoff = rt.clock()->NowSeconds() - rt.config().retention.minute_s;
  for (int64_t hour = start_s; hour < end_s; hour += 3600) {
    const int64_t day = hour / 86400;
    if (day != pending.day) {
      APIMETER_RETURN_IF_ERROR(FlushDay(rt.sink(), &pending));
      pending.day = day;
    } else if (o.day_flushes > 1 && (hour % 86400) % (3600 * (24 / o.day_flushes)) == 0) {
      // Part of the day so far: each day group then holds day_flushes
      // blocks, which compaction merges into a base, as a live agent's
      // flushes every 2 s do.
      APIMETER_RETURN_IF_ERROR(FlushDay(rt.sink(), &pending));
      pending.day = day;
    }
    // Both hosts' deltas of the hour are merged into one flush: the all,
    // endpoint and customer series of a minute are then written once, not
    // once per host (additive deltas, so the sum is the same).
    std::map<std::tuple<int, int64_t, int, std::string>, Rollup> merged;
    FlushBatch now;
    now.host = "seed";
    now.id = NewBatchId();
    for (int h = 0; h < o.hosts; ++h) {
      AggregatorOptions ao = rt.aggregator_options();
      ao.host = "web" + std::to_string(h + 1);
      Aggregator agg(ao);
      for (int64_t t = hour; t < hour + 3600; ++t) {
        traffic.Second(t, RequestsAt(t, o.rps, h, o.hosts),
                       [&](const LogRecord& r, const std::string& ep, const std::string& cu) {
                         agg.Add(r, ep, cu);
                       });
      }
      stats->requests += agg.lines();
      FlushBatch batch = agg.TakeBatch();
      now.lines += batch.lines;
      pending.lines += batch.lines;
      for (SeriesDelta& d : batch.series) {
        if (d.tier == Tier::kDay) {
          pending.series[{static_cast<int>(d.kind), d.name}].Merge(d.rollup);
        } else if (d.tier == Tier::kHour || (d.bucket + 1) * 60 > minute_cutoff) {
          merged[{static_cast<int>(d.tier), d.bucket, static_cast<int>(d.kind), d.name}].Merge(
              d.rollup);
        }
      }
      for (SlowRequest& s : batch.slow) pending.slow.push_back(std::move(s));
    }
    for (auto& [key, rollup] : merged) {
      const auto& [tier, bucket, kind, name] = key;
      now.series.push_back({static_cast<Tier>(tier), bucket, static_cast<SeriesKind>(kind), name,
                            std::move(rollup)});
    }
    merged.clear();
    stats->deltas += now.series.size();
    APIMETER_RETURN_IF_ERROR(rt.sink().Flush(now));
    ++stats->flushes;
    if ((hour - start_s) % 86400 == 86400 - 3600) {
      std::fprintf(stderr, "seeded %s: %llu requests so far\n", FormatIso8601(hour).c_str(),
                   static_cast<unsigned long long>(stats->requests));
    }
  }
  return FlushDay(rt.sink(), &pending);
}

// Checks the stored data against what was generated: the total requests of
// the all series over the seeded range must equal the synthetic count
// exactly (RequestsAt is deterministic, so this also works with --skip-seed).
Status Verify(const SeedOptions& o, Runtime& rt, int64_t end_s) {
  const int64_t start_s = end_s - static_cast<int64_t>(o.days) * 86400;
  uint64_t expected = 0;
  for (int64_t t = start_s; t < end_s; ++t) {
    for (int h = 0; h < o.hosts; ++h)
      expected += static_cast<uint64_t>(RequestsAt(t, o.rps, h, o.hosts));
  }
  QueryParams p;
  p.from_s = start_s;
  p.to_s = end_s;
  APIMETER_ASSIGN_OR_RETURN(nlohmann::json j, ToJson(rt.query().Overview(p)));
  const uint64_t stored = j.at("requests").get<uint64_t>();
  std::printf("verify: generated %llu requests, overview over the seeded range reads %llu: %s\n",
              static_cast<unsigned long long>(expected), static_cast<unsigned long long>(stored),
              stored == expected ? "exact" : "MISMATCH");
  return stored == expected ? Status::Ok() : Status::Internal("seeded data does not add up");
}

// p50/p95 wall time of each query kind over `repeats` runs, at 24 h and 30 d.
Status Bench(const SeedOptions& o, Runtime& rt, int64_t end_s) {
  QueryEngine& q = rt.query();
  struct Case {
    std::string name;
    std::function<Result<nlohmann::json>(const QueryParams&)> run;
  };
  const std::vector<Case> kinds = {
      {"overview", [&](const QueryParams& p) { return ToJson(q.Overview(p)); }},
      {"endpoints", [&](const QueryParams& p) { return ToJson(q.Endpoints(p)); }},
      {"customers", [&](const QueryParams& p) { return ToJson(q.Customers(p)); }},
      {"timeseries", [&](const QueryParams& p) { return ToJson(q.Timeseries(p)); }},
      {"heatmap p99", [&](const QueryParams& p) { return ToJson(q.Heatmap(p, "p99")); }},
  };
  std::printf("%-22s %-5s %9s %9s %9s  %s\n", "query", "range", "p50_ms", "p95_ms", "commands",
              "top-N path");
  for (int64_t days : {1, 30}) {
    QueryParams p;
    p.to_s = end_s;
    p.from_s = end_s - days * 86400 + 37;  // unaligned start: every tier used
    for (const Case& c : kinds) {
      if (!o.only.empty() && c.name.rfind(o.only, 0) != 0) continue;
      std::vector<double> ms;
      uint64_t commands = 0;
      for (int i = 0; i < o.repeats; ++i) {
        const uint64_t before = rt.redis().commands_sent();
        const auto start = std::chrono::steady_clock::now();
        auto r = c.run(p);
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
        commands = rt.redis().commands_sent() - before;
        if (!r.ok()) return r.status().WithContext(c.name);
      }
      std::sort(ms.begin(), ms.end());
      const auto at = [&](double f) {
        return ms[std::min(ms.size() - 1, static_cast<size_t>(f * static_cast<double>(ms.size())))];
      };
      std::string path;
      if (c.name == "endpoints" || c.name == "customers") {
        const TopNStats& t = q.last_top_n();
        path = t.path == TopNPath::kHeads     ? "heads"
               : t.path == TopNPath::kBounded ? "bounded, " + std::to_string(t.candidates) +
                                                    " candidates"
                                              : "full";
      }
      std::printf("%-22s %-5s %9.1f %9.1f %9llu  %s\n", c.name.c_str(),
                  days == 1 ? "24h" : "30d", at(0.5), at(0.95),
                  static_cast<unsigned long long>(commands), path.c_str());
    }
  }
  auto info = rt.redis().Command({"INFO", "memory"});
  if (info.ok()) {
    for (const char* field : {"used_memory_human:", "used_memory_dataset:"}) {
      const size_t at = info->str.find(field);
      if (at != std::string::npos) {
        std::printf("%s\n", info->str.substr(at, info->str.find('\r', at) - at).c_str());
      }
    }
  }
  auto keys = rt.redis().Command({"DBSIZE"});
  if (keys.ok()) std::printf("dbsize: %lld\n", static_cast<long long>(keys->integer));
  return Status::Ok();
}

int Main(int argc, char** argv) {
  SeedOptions o;
  CLI::App app{"apimeter-seed: writes the reference data set through the real aggregator + sink"};
  app.add_option("--config", o.config, "apimeter config (redis, retention, limits)")->required();
  app.add_option("--days", o.days, "simulated days ending at --end")->check(CLI::Range(1, 400));
  app.add_option("--rps", o.rps, "average requests per second (all hosts)")
      ->check(CLI::Range(0.01, 100000.0));
  app.add_option("--endpoints", o.endpoints)->check(CLI::Range(1, 100000));
  app.add_option("--customers", o.customers)->check(CLI::Range(1, 10000000));
  app.add_option("--hosts", o.hosts)->check(CLI::Range(1, 64));
  app.add_option("--seed", o.seed, "random seed (same seed, same data)");
  app.add_option("--end", o.end_s, "end epoch seconds (default: now, whole hour)");
  app.add_option("--day-flushes", o.day_flushes,
                 "day-tier flushes per simulated day (a divisor of 24; more than 1 gives each "
                 "day group several blocks, compacted into a base, as live agents do)")
      ->check(CLI::IsMember({1, 2, 3, 4, 6, 8, 12, 24}));
  app.add_flag("--bench", o.bench, "measure query latency and Redis memory afterwards");
  app.add_flag("--skip-seed", o.skip_seed, "only --bench (data already seeded)");
  app.add_option("--repeats", o.repeats, "runs per query for --bench")->check(CLI::Range(1, 1000));
  app.add_option("--only", o.only, "with --bench: only this query kind (overview, customers, ...)");
  CLI11_PARSE(app, argc, argv);

  SystemClock clock;
  auto rt = LoadRuntimeOrLog(o.config, &clock);
  if (!rt) return 2;
  Status st = rt->ConnectRedis();
  if (!st.ok()) {
    std::fprintf(stderr, "redis: %s\n", st.ToString().c_str());
    return 3;
  }
  const int64_t end_s = o.end_s > 0 ? o.end_s : clock.NowSeconds() / 3600 * 3600;
  if (!o.skip_seed) {
    SeedStats stats;
    const auto start = std::chrono::steady_clock::now();
    st = Seed(o, *rt, end_s, &stats);
    const double secs = Seconds(std::chrono::steady_clock::now() - start).count();
    if (!st.ok()) {
      std::fprintf(stderr, "seed: %s\n", st.ToString().c_str());
      return 1;
    }
    std::printf(
        "seeded %llu requests (%d days, %.0f req/s, %d endpoints, %d customers, %d hosts) "
        "in %.1f s: %.0f requests/s, %llu hourly flushes, %llu hour/minute deltas\n",
        static_cast<unsigned long long>(stats.requests), o.days, o.rps, o.endpoints, o.customers,
        o.hosts, secs, static_cast<double>(stats.requests) / secs,
        static_cast<unsigned long long>(stats.flushes),
        static_cast<unsigned long long>(stats.deltas));
  }
  if (o.bench) {
    st = Verify(o, *rt, end_s);
    if (st.ok()) st = Bench(o, *rt, end_s);
    if (!st.ok()) {
      std::fprintf(stderr, "bench: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace apimeter

int main(int argc, char** argv) { return apimeter::Main(argc, argv); }

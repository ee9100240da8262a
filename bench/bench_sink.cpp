// RedisSink write-path cost: commands per flush and flush latency against a
// real redis-server (APIMETER_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0;
// keys go under a bench:<pid> prefix and expire with the data's retention).
//
//   BM_FlushBackfillHour: 300 endpoints x 60 minutes (+ all, host, hour, day).
//   BM_FlushLiveMinute:   one minute of a realistic mix: 300 endpoints,
//                         200 customers, 600 customer x endpoint pairs.
//   BM_CommandsPerMillionLines: 1M lines over 60 minutes (Zipf endpoints and
//                         customers), one flush per minute; reports commands
//                         per 1M lines.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <tuple>

#include "common/clock.h"
#include "sink/redis_sink.h"

namespace apimeter {
namespace {

RedisEndpoint BenchEndpoint() {
  const char* url = std::getenv("APIMETER_BENCH_REDIS_URL");
  auto ep = ParseRedisUrl(url != nullptr && *url ? url : "redis://127.0.0.1:6379/0");
  RedisEndpoint out = ep.ok() ? *ep : RedisEndpoint{};
  // A 1M-line minute is ~43k series / ~1M HINCRBYs in one EXEC: seconds on a busy box.
  out.command_timeout = std::chrono::seconds(60);
  return out;
}

int64_t NowMinuteStart() { return SystemClock().NowSeconds() / 60 * 60 - 3600; }

Rollup SomeRollup(uint64_t n, int salt) {
  Rollup r;
  for (uint64_t i = 0; i < n; ++i) {
    r.AddRequest(i % 10 == 0 ? 404 : 200, 300, 1500 + salt, 1000 + 37 * (i + salt) % 90000);
  }
  return r;
}

SeriesDelta Delta(Tier tier, int64_t t, SeriesKind kind, std::string name, Rollup r) {
  SeriesDelta d;
  d.tier = tier;
  d.bucket = t / TierSeconds(tier);
  d.kind = kind;
  d.name = std::move(name);
  d.rollup = std::move(r);
  return d;
}

// Flushes `make(i)` batches and reports commands and series per flush.
template <typename MakeBatch>
void RunFlushes(benchmark::State& state, MakeBatch make) {
  RedisClient client(BenchEndpoint());
  if (!client.Connect().ok()) {
    state.SkipWithError("no redis-server; set APIMETER_BENCH_REDIS_URL");
    return;
  }
  SystemClock clock;
  KeySchema schema("bench:" + std::to_string(::getpid()));
  RedisSink sink(&client, schema, SinkOptions{}, &clock);
  uint64_t series = 0, flushes = 0;
  int i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    FlushBatch b = make(i++);
    series += b.series.size();
    state.ResumeTiming();
    Status st = sink.Flush(b);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      return;
    }
    ++flushes;
  }
  state.counters["commands_per_flush"] =
      static_cast<double>(sink.stats().commands) / static_cast<double>(flushes);
  state.counters["series_per_flush"] = static_cast<double>(series) / static_cast<double>(flushes);
}

void BM_FlushBackfillHour(benchmark::State& state) {
  const int64_t t0 = NowMinuteStart();
  RunFlushes(state, [&](int) {
    FlushBatch b;
    b.host = "bench-host";
    for (int m = 0; m < 60; ++m) {
      const int64_t t = t0 + m * 60;
      b.series.push_back(Delta(Tier::kMinute, t, SeriesKind::kAll, "", SomeRollup(30, m)));
      b.series.push_back(
          Delta(Tier::kMinute, t, SeriesKind::kHost, "bench-host", SomeRollup(30, m)));
      for (int e = 0; e < 300; ++e) {
        b.series.push_back(Delta(Tier::kMinute, t, SeriesKind::kEndpoint,
                                 "GET /v1/r" + std::to_string(e) + "/:id", SomeRollup(3, e)));
      }
    }
    for (Tier tier : {Tier::kHour, Tier::kDay}) {
      for (int e = 0; e < 300; ++e) {
        b.series.push_back(Delta(tier, t0, SeriesKind::kEndpoint,
                                 "GET /v1/r" + std::to_string(e) + "/:id", SomeRollup(20, e)));
      }
    }
    return b;
  });
}
BENCHMARK(BM_FlushBackfillHour)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_FlushLiveMinute(benchmark::State& state) {
  const int64_t t0 = NowMinuteStart();
  RunFlushes(state, [&](int i) {
    FlushBatch b;
    b.host = "bench-host";
    const int64_t t = t0 + (i % 60) * 60;
    for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      b.series.push_back(Delta(tier, t, SeriesKind::kAll, "", SomeRollup(20, 1)));
      b.series.push_back(Delta(tier, t, SeriesKind::kHost, "bench-host", SomeRollup(20, 1)));
      for (int e = 0; e < 300; ++e) {
        b.series.push_back(Delta(tier, t, SeriesKind::kEndpoint,
                                 "GET /v1/r" + std::to_string(e) + "/:id", SomeRollup(2, e)));
      }
      for (int c = 0; c < 200; ++c) {
        b.series.push_back(
            Delta(tier, t, SeriesKind::kCustomer, "cust" + std::to_string(c), SomeRollup(2, c)));
      }
      for (int p = 0; p < 600; ++p) {
        b.series.push_back(Delta(tier, t, SeriesKind::kCustomerEndpoint,
                                 "cust" + std::to_string(p % 200) + kNameSeparator + "GET /v1/r" +
                                     std::to_string(p % 300) + "/:id",
                                 SomeRollup(1, p)));
      }
    }
    return b;
  });
}
BENCHMARK(BM_FlushLiveMinute)->Unit(benchmark::kMillisecond)->Iterations(20);

// Builds the per-minute batches 1M lines produce and flushes them.
void BM_CommandsPerMillionLines(benchmark::State& state) {
  constexpr int kLines = 1000000, kMinutes = 60;
  const int64_t t0 = NowMinuteStart();
  std::mt19937_64 rng(42);
  // Zipf-like: index = floor(n^u) - 1 concentrates traffic on few names.
  auto zipf = [&](int n) {
    std::uniform_real_distribution<double> u(0, 1);
    return static_cast<int>(std::pow(static_cast<double>(n), u(rng))) - 1;
  };
  std::vector<FlushBatch> batches(kMinutes);
  for (int m = 0; m < kMinutes; ++m) {
    std::map<std::tuple<int, int, std::string>, Rollup> acc;  // (tier, kind, name)
    for (int l = 0; l < kLines / kMinutes; ++l) {
      const std::string ep = "GET /v1/r" + std::to_string(zipf(300)) + "/:id";
      const std::string cu = "k_" + std::to_string(zipf(5000));
      for (int tier = 0; tier < 3; ++tier) {
        for (auto [kind, name] : {std::pair<SeriesKind, std::string>{SeriesKind::kAll, ""},
                                  {SeriesKind::kHost, "bench-host"},
                                  {SeriesKind::kEndpoint, ep},
                                  {SeriesKind::kCustomer, cu},
                                  {SeriesKind::kCustomerEndpoint, cu + kNameSeparator + ep}}) {
          acc[{tier, static_cast<int>(kind), name}].AddRequest(200, 300, 1500, 1000 + l % 5000);
        }
      }
    }
    batches[m].host = "bench-host";
    for (auto& [key, rollup] : acc) {
      auto [tier, kind, name] = key;
      batches[m].series.push_back(Delta(static_cast<Tier>(tier), t0 + m * 60,
                                        static_cast<SeriesKind>(kind), name, std::move(rollup)));
    }
  }
  uint64_t series = 0;
  for (auto& b : batches) series += b.series.size();
  RunFlushes(state, [&](int i) { return batches[i % kMinutes]; });
  state.counters["commands_per_1M_lines"] =
      state.counters["commands_per_flush"] * static_cast<double>(kMinutes);
  state.counters["series_deltas_per_1M_lines"] = static_cast<double>(series);
}
BENCHMARK(BM_CommandsPerMillionLines)->Unit(benchmark::kMillisecond)->Iterations(60);

}  // namespace
}  // namespace apimeter

BENCHMARK_MAIN();

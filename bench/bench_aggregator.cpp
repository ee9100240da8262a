// Benchmarks of the aggregator hot path: Aggregator::Add on a realistic mix
// (300 endpoints, 5000 Zipf-distributed customers, log-normal latencies,
// lines in time order), CustomerResolver::Resolve, LatencyHistogram::Add and
// BucketIndex (the baseline to compare Add with in the same run), and
// TakeBatch at 500 req/s for 2 s, one minute and 67 minutes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "aggregator/aggregator.h"
#include "aggregator/customer_resolver.h"
#include "aggregator/latency_histogram.h"

namespace apimeter {
namespace {

constexpr int64_t kStartUs = 1767225600LL * 1000000;

struct Mix {
  std::vector<std::string> endpoints, customers, keys;
  std::vector<LogRecord> records;
  std::vector<uint32_t> endpoint_of, customer_of;
};

// Zipf(s = 1.1) over n items by inverse CDF on precomputed weights.
std::vector<uint32_t> ZipfSample(size_t n, size_t count, std::mt19937_64& rng) {
  std::vector<double> cdf(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) cdf[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), 1.1));
  std::uniform_real_distribution<double> u(0, sum);
  std::vector<uint32_t> out(count);
  for (auto& x : out) {
    x = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
  }
  return out;
}

const Mix& RealisticMix() {
  static const Mix mix = [] {
    Mix m;
    std::mt19937_64 rng(1);
    for (int i = 0; i < 300; ++i)
      m.endpoints.push_back("GET /v1/resource" + std::to_string(i) + "/:id");
    for (int i = 0; i < 5000; ++i) {
      m.keys.push_back("live_key_" + std::to_string(rng()));
      m.customers.push_back(CustomerResolver::IdFor("bench", m.keys.back()));
    }
    const size_t n = 1 << 20;
    m.endpoint_of = ZipfSample(300, n, rng);
    m.customer_of = ZipfSample(5000, n, rng);
    std::lognormal_distribution<double> latency(std::log(30000.0), 1.2);
    const int statuses[] = {200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 500};
    for (size_t i = 0; i < n; ++i) {
      LogRecord r;
      r.time_us = kStartUs + static_cast<int64_t>(i) * 100;  // 10k lines/s, in order
      r.status = statuses[rng() % 12];
      r.bytes_in = 200 + rng() % 800;
      r.bytes_out = 500 + rng() % 20000;
      r.latency_us = static_cast<int64_t>(latency(rng));
      m.records.push_back(r);
    }
    return m;
  }();
  return mix;
}

// Add on the realistic mix at range(0) lines per second (records in time
// order; a TakeBatch, not timed, every 2^20 lines).
void BM_AggregatorAdd(benchmark::State& state) {
  const Mix& m = RealisticMix();
  AggregatorOptions o;
  o.host = "web1";
  Aggregator agg(o);
  std::vector<LogRecord> records = m.records;
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].time_us = kStartUs + static_cast<int64_t>(i) * (1000000 / state.range(0));
  }
  size_t i = 0;
  for (auto _ : state) {
    agg.Add(records[i], m.endpoints[m.endpoint_of[i]], m.customers[m.customer_of[i]]);
    if (++i == records.size()) {
      i = 0;
      state.PauseTiming();
      benchmark::DoNotOptimize(agg.TakeBatch());
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_held"] = static_cast<double>(agg.MemoryBytes());
}
BENCHMARK(BM_AggregatorAdd)->Arg(500)->Arg(10000);

// The same with a client per line (issue 18 part 2): 40 clients, so the
// cost of the three day kinds shows against BM_AggregatorAdd.
void BM_AggregatorAddWithClient(benchmark::State& state) {
  const Mix& m = RealisticMix();
  AggregatorOptions o;
  o.host = "web1";
  Aggregator agg(o);
  std::vector<LogRecord> records = m.records;
  std::vector<std::string> clients;
  for (int c = 0; c < 40; ++c) clients.push_back("sdk" + std::to_string(c % 8) + "/1." + std::to_string(c));
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].time_us = kStartUs + static_cast<int64_t>(i) * (1000000 / state.range(0));
  }
  size_t i = 0;
  for (auto _ : state) {
    const std::string_view client = clients[(i * 2654435761u) % clients.size()];
    agg.Add(records[i], m.endpoints[m.endpoint_of[i]], m.customers[m.customer_of[i]], &client);
    if (++i == records.size()) {
      i = 0;
      state.PauseTiming();
      benchmark::DoNotOptimize(agg.TakeBatch());
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_held"] = static_cast<double>(agg.MemoryBytes());
}
BENCHMARK(BM_AggregatorAddWithClient)->Arg(10000);

// The same code path with everything in cache (8 endpoints x 8 customers, one
// minute): the floor that memory misses add to in BM_AggregatorAdd.
void BM_AggregatorAddHot(benchmark::State& state) {
  const Mix& m = RealisticMix();
  AggregatorOptions o;
  o.host = "web1";
  Aggregator agg(o);
  size_t i = 0;
  for (auto _ : state) {
    LogRecord r = m.records[i];
    r.time_us = kStartUs;
    agg.Add(r, m.endpoints[m.endpoint_of[i] % 8], m.customers[m.customer_of[i] % 8]);
    if (++i == m.records.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AggregatorAddHot);

void BM_ResolveThenAdd(benchmark::State& state) {
  const Mix& m = RealisticMix();
  AggregatorOptions o;
  o.host = "web1";
  Aggregator agg(o);
  CustomerResolver resolver("bench", {});
  size_t i = 0;
  for (auto _ : state) {
    agg.Add(m.records[i], m.endpoints[m.endpoint_of[i]],
            resolver.Resolve(m.keys[m.customer_of[i]]));
    if (++i == m.records.size()) {
      i = 0;
      state.PauseTiming();
      benchmark::DoNotOptimize(agg.TakeBatch());
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveThenAdd);

void BM_Resolve(benchmark::State& state) {
  const Mix& m = RealisticMix();
  CustomerResolver resolver("bench", {});
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(resolver.Resolve(m.keys[m.customer_of[i]]));
    if (++i == m.records.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Resolve);

void BM_IdFor(benchmark::State& state) {
  const Mix& m = RealisticMix();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(CustomerResolver::IdFor("bench", m.keys[i]));
    if (++i == m.keys.size()) i = 0;
  }
}
BENCHMARK(BM_IdFor);

void BM_BucketIndex(benchmark::State& state) {
  const Mix& m = RealisticMix();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(LatencyHistogram::BucketIndex(m.records[i].latency_us));
    if (++i == m.records.size()) i = 0;
  }
}
BENCHMARK(BM_BucketIndex);

void BM_BucketIndexReference(benchmark::State& state) {
  const Mix& m = RealisticMix();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(LatencyHistogram::BucketIndexReference(m.records[i].latency_us));
    if (++i == m.records.size()) i = 0;
  }
}
BENCHMARK(BM_BucketIndexReference);

void BM_HistogramAdd(benchmark::State& state) {
  const Mix& m = RealisticMix();
  LatencyHistogram h;
  size_t i = 0;
  for (auto _ : state) {
    h.Add(m.records[i].latency_us);
    if (++i == m.records.size()) i = 0;
  }
  state.counters["bytes"] = static_cast<double>(h.MemoryBytes());
}
BENCHMARK(BM_HistogramAdd);

// One TakeBatch of range(0) lines of realistic traffic arriving at range(1)
// lines per second (names and latencies cycle through the mix).
void BM_TakeBatch(benchmark::State& state) {
  const Mix& m = RealisticMix();
  AggregatorOptions o;
  o.host = "web1";
  const size_t lines = static_cast<size_t>(state.range(0));
  const int64_t step_us = 1000000 / state.range(1);
  size_t series = 0, ce = 0, held = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Aggregator agg(o);
    for (size_t i = 0; i < lines; ++i) {
      const size_t k = i % m.records.size();
      LogRecord r = m.records[k];
      r.time_us = kStartUs + static_cast<int64_t>(i) * step_us;
      agg.Add(r, m.endpoints[m.endpoint_of[k]], m.customers[m.customer_of[k]]);
    }
    held = agg.MemoryBytes();
    state.ResumeTiming();
    FlushBatch b = agg.TakeBatch();
    series = b.series.size();
    ce = static_cast<size_t>(std::count_if(b.series.begin(), b.series.end(), [](const auto& d) {
      return d.kind == SeriesKind::kCustomerEndpoint;
    }));
    benchmark::DoNotOptimize(b);
  }
  state.counters["series"] = static_cast<double>(series);
  state.counters["ce_series"] = static_cast<double>(ce);
  state.counters["bytes_held"] = static_cast<double>(held);
  state.counters["bytes_per_line"] = static_cast<double>(held) / static_cast<double>(lines);
}
BENCHMARK(BM_TakeBatch)
    ->Args({1000, 500})     // the live agent's 2 s flush at 500 req/s
    ->Args({30000, 500})    // one minute at 500 req/s
    ->Args({100000, 1667})  // 100k lines in one minute
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TakeBatch)
    ->Args({2010000, 500})  // 67 minutes at 500 req/s (the 2M-line log)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace apimeter

BENCHMARK_MAIN();

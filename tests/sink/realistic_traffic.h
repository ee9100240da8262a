// Realistic traffic for storage-v2 tests and figures: lines at a steady
// rate over a time range, Zipf(1.1) endpoints and customers (the shapes of
// bench/bench_aggregator.cpp), log-normal latencies, a few malformed lines,
// fed through a real Aggregator into FlushBatches.
//
// Promise: deterministic for a seed; lines in time order. Not thread-safe.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "aggregator/aggregator.h"
#include "common/time_util.h"

namespace apimeter::testing {

struct TrafficLine {
  int64_t time_us = 0;
  uint32_t endpoint = 0, customer = 0;
  int status = 200;
  uint64_t bytes_in = 0, bytes_out = 0;
  int64_t latency_us = -1;
  bool rejected = false;
};

struct Traffic {
  std::vector<std::string> endpoints, customers;
  std::vector<TrafficLine> lines;

  // `n` lines evenly over [from_s, to_s).
  static Traffic Make(uint64_t seed, size_t n, int64_t from_s, int64_t to_s, size_t endpoints,
                      size_t customers) {
    std::mt19937_64 rng(seed);
    Traffic t;
    for (size_t i = 0; i < endpoints; ++i) {
      t.endpoints.push_back("GET /v1/resource" + std::to_string(i) + "/:id");
    }
    for (size_t i = 0; i < customers; ++i) t.customers.push_back("cust_" + std::to_string(i));
    const auto endpoint_of = Zipf(endpoints, n, rng);
    const auto customer_of = Zipf(customers, n, rng);
    static const int kStatuses[] = {200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 401, 404, 429, 500};
    std::lognormal_distribution<double> latency(std::log(30000.0), 1.2);
    t.lines.resize(n);
    const int64_t span_us = (to_s - from_s) * kMicrosPerSecond;
    for (size_t i = 0; i < n; ++i) {
      TrafficLine& l = t.lines[i];
      l.time_us = from_s * kMicrosPerSecond + static_cast<int64_t>(span_us * (i / double(n)));
      l.endpoint = endpoint_of[i];
      l.customer = customer_of[i];
      l.status = kStatuses[rng() % std::size(kStatuses)];
      l.bytes_in = 200 + rng() % 2000;
      l.bytes_out = 500 + rng() % 50000;
      l.latency_us = static_cast<int64_t>(latency(rng));
      l.rejected = rng() % 1000 == 0;
    }
    return t;
  }

  // Lines [first, last) into `agg`.
  void Feed(size_t first, size_t last, Aggregator* agg) const {
    for (size_t i = first; i < last; ++i) {
      const TrafficLine& l = lines[i];
      if (l.rejected) {
        agg->AddRejected(l.time_us);
        continue;
      }
      LogRecord r;
      r.time_us = l.time_us;
      r.status = l.status;
      r.bytes_in = l.bytes_in;
      r.bytes_out = l.bytes_out;
      r.latency_us = l.latency_us;
      agg->Add(r, endpoints[l.endpoint], customers[l.customer]);
    }
  }

  // Zipf(s = 1.1) over n items by inverse CDF.
  static std::vector<uint32_t> Zipf(size_t n, size_t count, std::mt19937_64& rng) {
    std::vector<double> cdf(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) cdf[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), 1.1));
    std::uniform_real_distribution<double> u(0, sum);
    std::vector<uint32_t> out(count);
    for (auto& x : out) {
      x = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
      if (x >= n) x = static_cast<uint32_t>(n - 1);
    }
    return out;
  }
};

}  // namespace apimeter::testing

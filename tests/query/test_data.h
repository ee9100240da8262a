// Test data for the query tests: known requests, written to Redis through the
// real writer (RedisSink::Flush), and the exact answers computed independently
// from the same requests (no histogram, no Redis).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "common/status.h"
#include "sink/redis_sink.h"
#include "tests/support/test_redis.h"

namespace apimeter::testing {

// The test server with a long command timeout: one flush of thousands of
// series can take longer than the default 5 s on a loaded machine (ASan, CI).
inline RedisEndpoint PatientEndpoint() {
  RedisEndpoint ep = TestRedis::Get().endpoint();
  ep.command_timeout = std::chrono::milliseconds(60000);
  return ep;
}

struct TestRequest {
  int64_t time_us = 0;
  std::string host = "web1";
  std::string endpoint = "GET /v1/x";
  std::string customer = "acme";
  int status = 200;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  int64_t latency_us = -1;
};

// The FlushBatch an aggregator would produce for `requests`: each request in
// the minute, hour and day bucket of its own time in the all, host, endpoint
// and customer series, and in the day bucket only of its customer × endpoint
// series (the writer keeps those per UTC day only).
inline FlushBatch BatchFor(const std::vector<TestRequest>& requests, bool with_slow = true) {
  std::map<std::tuple<int, int64_t, int, std::string>, Rollup> rollups;
  for (const TestRequest& r : requests) {
    const int64_t t = r.time_us / 1000000;
    const std::pair<SeriesKind, std::string> series[] = {
        {SeriesKind::kAll, ""},
        {SeriesKind::kHost, r.host},
        {SeriesKind::kEndpoint, r.endpoint},
        {SeriesKind::kCustomer, r.customer},
        {SeriesKind::kCustomerEndpoint, r.customer + std::string(1, kNameSeparator) + r.endpoint}};
    for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      for (const auto& [kind, name] : series) {
        if (kind == SeriesKind::kCustomerEndpoint && tier != Tier::kDay) continue;
        rollups[{static_cast<int>(tier), t / TierSeconds(tier), static_cast<int>(kind), name}]
            .AddRequest(r.status, r.bytes_in, r.bytes_out, r.latency_us);
      }
    }
  }
  FlushBatch batch;
  batch.host = "query-test";
  for (auto& [key, rollup] : rollups) {
    const auto& [tier, bucket, kind, name] = key;
    batch.series.push_back(
        {static_cast<Tier>(tier), bucket, static_cast<SeriesKind>(kind), name, std::move(rollup)});
  }
  if (with_slow) {
    for (const TestRequest& r : requests) {
      if (r.latency_us < 0) continue;
      batch.slow.push_back({r.time_us, r.latency_us, r.status, r.host, r.endpoint, r.customer});
    }
  }
  batch.lines = requests.size();
  return batch;
}

// Rejected lines of one host at one time, in the all and host series.
inline FlushBatch RejectedBatch(const std::string& host, int64_t t, uint64_t n) {
  FlushBatch batch;
  batch.host = "query-test";
  for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    for (SeriesKind kind : {SeriesKind::kAll, SeriesKind::kHost}) {
      SeriesDelta d{tier, t / TierSeconds(tier), kind, kind == SeriesKind::kAll ? "" : host, {}};
      d.rollup.rejected = n;
      batch.series.push_back(std::move(d));
    }
  }
  return batch;
}

// The exact answer over requests in [from_s, to_s) that pass `keep`.
struct Expected {
  uint64_t requests = 0, e4 = 0, e5 = 0, bytes_in = 0, bytes_out = 0;
  std::map<int, uint64_t> status;
  std::vector<int64_t> latencies;  // sorted

  // Exact nearest-rank percentile in µs: the ceil(p/100 * N)-th smallest.
  double Percentile(double p) const {
    const size_t n = latencies.size();
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    return static_cast<double>(latencies[rank - 1]);
  }
};

template <typename Keep>
Expected Compute(const std::vector<TestRequest>& requests, int64_t from_s, int64_t to_s,
                 Keep keep) {
  Expected e;
  for (const TestRequest& r : requests) {
    if (r.time_us < from_s * 1000000 || r.time_us >= to_s * 1000000 || !keep(r)) continue;
    ++e.requests;
    if (r.status >= 400 && r.status < 500) ++e.e4;
    if (r.status >= 500 && r.status < 600) ++e.e5;
    e.bytes_in += r.bytes_in;
    e.bytes_out += r.bytes_out;
    ++e.status[r.status];
    if (r.latency_us >= 0) e.latencies.push_back(r.latency_us);
  }
  std::sort(e.latencies.begin(), e.latencies.end());
  return e;
}

inline Expected Compute(const std::vector<TestRequest>& requests, int64_t from_s, int64_t to_s) {
  return Compute(requests, from_s, to_s, [](const TestRequest&) { return true; });
}

// A deterministic mix: endpoints and customers with skewed weights, five
// statuses, log-normal latencies from 0.1 ms to seconds, some without latency.
inline std::vector<TestRequest> MixedRequests(int64_t from_s, int64_t to_s, size_t count,
                                              uint32_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<std::string> endpoints = {"GET /v1/orders/:id", "POST /v1/orders",
                                              "GET /v1/users", "DELETE /v1/orders/:id"};
  const std::vector<std::string> customers = {"acme", "globex", "k_0123456789ab", "anonymous"};
  const std::vector<std::string> hosts = {"web1", "web2"};
  const int statuses[] = {200, 200, 200, 200, 201, 304, 404, 429, 500, 503};
  std::uniform_int_distribution<int64_t> when(from_s * 1000000, to_s * 1000000 - 1);
  std::discrete_distribution<size_t> ep_pick({50, 25, 15, 10});
  std::discrete_distribution<size_t> cu_pick({40, 30, 20, 10});
  std::uniform_int_distribution<size_t> host_pick(0, 1), status_pick(0, 9);
  std::lognormal_distribution<double> latency(std::log(20000.0), 1.2);
  std::uniform_int_distribution<uint64_t> bytes(0, 20000);
  std::uniform_int_distribution<int> no_latency(0, 19);
  std::vector<TestRequest> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    TestRequest r;
    r.time_us = when(rng);
    r.endpoint = endpoints[ep_pick(rng)];
    r.customer = customers[cu_pick(rng)];
    r.host = hosts[host_pick(rng)];
    r.status = statuses[status_pick(rng)];
    r.bytes_in = bytes(rng) / 10;
    r.bytes_out = bytes(rng);
    r.latency_us = no_latency(rng) == 0 ? -1 : std::max<int64_t>(0, std::llround(latency(rng)));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace apimeter::testing

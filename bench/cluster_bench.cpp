// Flush throughput and query latency: a single redis-server vs a 3-master
// and a 6-master Redis Cluster (no replicas) and a 3-master cluster with one
// replica per master (the flush WAITs for it), in one run, on the same data;
// and how keys spread over masters and slots. docs/benchmarks.md, "Redis Cluster".
//   cluster_bench [requests=300000] [repeats=15]
// A realistic day: `requests` over 24 h, 300 endpoints and 5,000 customers
// (Zipf-like weights), 4 hosts, written as one flush per 10 minutes (what an
// agent's aggregator hands the sink, minute + hour + day tiers), then each
// query kind run `repeats` times. Servers are private (TestRedis::Private,
// TestCluster) and stopped at exit.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "query/query_engine.h"
#include "sink/cluster_client.h"
#include "sink/crc16.h"
#include "sink/redis_sink.h"
#include "tests/query/test_data.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

using namespace apimeter;
using Ms = std::chrono::duration<double, std::milli>;

namespace {

std::vector<testing::TestRequest> RealisticDay(int64_t day_start, size_t n) {
  std::mt19937_64 rng(42);
  std::vector<double> ew(300), cw(5000);
  for (size_t i = 0; i < ew.size(); ++i) ew[i] = 1.0 / std::pow(i + 1.0, 1.1);
  for (size_t i = 0; i < cw.size(); ++i) cw[i] = 1.0 / std::pow(i + 1.0, 1.05);
  std::discrete_distribution<size_t> ep(ew.begin(), ew.end()), cu(cw.begin(), cw.end());
  std::uniform_int_distribution<int64_t> when(0, kSecondsPerDay * 1000000 - 1);
  std::uniform_int_distribution<int> host(0, 3), st(0, 19);
  std::lognormal_distribution<double> lat(std::log(30000.0), 1.0);
  std::uniform_int_distribution<uint64_t> bytes(100, 30000);
  std::vector<testing::TestRequest> out(n);
  for (auto& r : out) {
    r.time_us = day_start * 1000000 + when(rng);
    r.host = "web" + std::to_string(host(rng));
    r.endpoint = "GET /v1/resource" + std::to_string(ep(rng)) + "/:id";
    r.customer = "k_" + std::to_string(100000000000 + cu(rng));
    const int s = st(rng);
    r.status = s < 16 ? 200 : (s < 18 ? 404 : (s < 19 ? 429 : 500));
    r.bytes_in = 200;
    r.bytes_out = bytes(rng);
    r.latency_us = static_cast<int64_t>(lat(rng));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.time_us < b.time_us; });
  return out;
}

struct Figures {
  double flush_s = 0;
  size_t flushes = 0, series = 0;
  std::map<std::string, std::pair<double, double>> query_ms;  // p50, p95
};

Figures Run(RedisCommands* client, const std::string& prefix, const ManualClock& clock,
            const std::vector<FlushBatch>& batches, int64_t from, int64_t to, int repeats) {
  Figures f;
  SinkOptions so;
  RedisSink sink(client, KeySchema(prefix), so, &clock);
  for (const FlushBatch& b : batches) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = sink.Flush(b);
    f.flush_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!st.ok()) {
      std::fprintf(stderr, "flush failed: %s\n", st.ToString().c_str());
      std::exit(1);
    }
    ++f.flushes;
    f.series += b.series.size();
  }
  QueryEngine q(client, KeySchema(prefix), RetentionSeconds{}, &clock);
  QueryParams day;
  day.from_s = from;
  day.to_s = to;
  QueryParams six = day;
  six.from_s = to - 6 * 3600;
  six.step_s = 60;
  QueryParams hour = day;
  hour.from_s = to - 3600;
  const std::vector<std::pair<std::string, std::function<bool()>>> kinds = {
      {"overview 24h", [&] { return ToJson(q.Overview(day)).ok(); }},
      {"endpoints 24h top 20", [&] { return ToJson(q.Endpoints(day)).ok(); }},
      {"customers 24h top 20", [&] { return ToJson(q.Customers(day)).ok(); }},
      {"timeseries 6h by 1m", [&] { return ToJson(q.Timeseries(six)).ok(); }},
      {"overview 1h", [&] { return ToJson(q.Overview(hour)).ok(); }},
  };
  for (const auto& [name, fn] : kinds) {
    std::vector<double> ms;
    for (int i = 0; i < repeats + 1; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!fn()) {
        std::fprintf(stderr, "query %s failed\n", name.c_str());
        std::exit(1);
      }
      if (i > 0) ms.push_back(Ms(std::chrono::steady_clock::now() - t0).count());  // 1 warm-up
    }
    std::sort(ms.begin(), ms.end());
    f.query_ms[name] = {ms[ms.size() / 2], ms[static_cast<size_t>(0.95 * (ms.size() - 1))]};
  }
  return f;
}

void KeySpread(const testing::TestCluster& tc, ClusterClient& c, const std::string& prefix) {
  std::vector<uint64_t> per_master;
  std::map<int, uint64_t> per_slot;
  for (const std::string& m : c.Masters()) {
    RedisClient node(tc.NodeEndpoint(m));
    uint64_t n = 0;
    std::string cursor = "0";
    do {
      auto r = node.Command({"SCAN", cursor, "MATCH", prefix + ":*", "COUNT", "2000"});
      if (!r.ok() || r->elements.size() != 2) break;
      cursor = r->elements[0].str;
      for (const RedisReply& k : r->elements[1].elements) {
        ++n;
        ++per_slot[HashSlot(k.str)];
      }
    } while (cursor != "0");
    per_master.push_back(n);
  }
  uint64_t total = 0, maxm = 0, maxs = 0;
  for (uint64_t v : per_master) {
    total += v;
    maxm = std::max(maxm, v);
  }
  for (const auto& [slot, n] : per_slot) maxs = std::max(maxs, n);
  const double mean = static_cast<double>(total) / per_master.size();
  std::printf(
      "   keys: %llu over %zu masters, max/mean per master %.3f; %zu slots hold keys, "
      "mean %.1f keys per used slot, max %llu\n",
      static_cast<unsigned long long>(total), per_master.size(), maxm / mean, per_slot.size(),
      static_cast<double>(total) / per_slot.size(), static_cast<unsigned long long>(maxs));
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 300000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 15;
  const int64_t day = SystemClock().NowSeconds() / kSecondsPerDay - 1;
  const int64_t from = day * kSecondsPerDay, to = from + kSecondsPerDay;
  ManualClock clock((to + 3600) * 1000000);
  const auto requests = RealisticDay(from, n);
  std::vector<FlushBatch> batches;
  for (size_t i = 0; i < requests.size();) {
    const int64_t chunk_end = (requests[i].time_us / 600000000 + 1) * 600000000;
    std::vector<testing::TestRequest> part;
    while (i < requests.size() && requests[i].time_us < chunk_end) part.push_back(requests[i++]);
    batches.push_back(testing::BatchFor(part));
    batches.back().host = "bench-host";
    batches.back().id = "b" + std::to_string(batches.size());
  }
  std::printf("%zu requests over 24 h in %zu flushes\n", n, batches.size());

  auto& single = testing::TestRedis::Private();
  RedisEndpoint ep = single.endpoint();
  ep.command_timeout = std::chrono::milliseconds(60000);
  RedisClient standalone(ep);
  std::vector<std::pair<std::string, Figures>> rows;
  rows.emplace_back("standalone", Run(&standalone, "cb", clock, batches, from, to, repeats));
  // Without replicas no WAIT is sent; the last row has one replica per
  // master, so every commit and every apply pipeline waits for a replica.
  for (auto [masters, replicas] : {std::pair{3, 0}, std::pair{6, 0}, std::pair{3, 1}}) {
    testing::TestCluster tc(masters, replicas);
    ClusterOptions o = tc.Options();
    o.node.command_timeout = std::chrono::milliseconds(60000);
    ClusterClient cc(o);
    rows.emplace_back("cluster " + std::to_string(masters) + " masters" +
                          (replicas > 0 ? " + " + std::to_string(masters * replicas) + " replicas"
                                        : std::string()),
                      Run(&cc, "cb", clock, batches, from, to, repeats));
    std::printf("%s: %llu WAITs short of a replica\n", rows.back().first.c_str(),
                static_cast<unsigned long long>(cc.stats().unreplicated));
    std::printf("%s:\n", rows.back().first.c_str());
    KeySpread(tc, cc, "cb");
  }
  const Figures& base = rows.front().second;
  for (const auto& [name, f] : rows) {
    std::printf(
        "\n== %s: %zu flushes in %.2f s: %.0f requests/s, %.0f series deltas/s "
        "(%.2fx standalone)\n",
        name.c_str(), f.flushes, f.flush_s, n / f.flush_s, f.series / f.flush_s,
        base.flush_s / f.flush_s);
    for (const auto& [q, v] : f.query_ms) {
      std::printf("   %-22s p50 %7.2f ms  p95 %7.2f ms  (p50 %.2fx standalone)\n", q.c_str(),
                  v.first, v.second, v.first / base.query_ms.at(q).first);
    }
  }
  return 0;
}

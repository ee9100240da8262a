// Query latency on a moderately large dataset: N endpoints x H hours of
// per-minute traffic (default 300 x 24), written in the same flushes through
// the v1 writer (RedisSink) and the v2 writer (BlockSink + StandaloneFlush,
// compacting the groups it reports as the agent does), then each query kind
// run repeatedly on both stores, interleaved, so both see the same load:
// once as written (hour groups hold one delta per flush), once after every
// hour and day group is compacted, as closed buckets are in steady state;
// prints p50/p95 wall time in ms per store, the v2/v1 ratio of the p95 and
// the Redis commands one v1 run sends. v2 runs share one block cache, as
// serve's workers do; its first (cold) run is in the figures.
//   query_latency_bench [endpoints=300] [hours=24] [repeats=20]
// Uses TestRedis (a private redis-server unless APIMETER_TEST_REDIS_URL is set).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "query/query_engine.h"
#include "sink/block_compactor.h"
#include "sink/block_sink.h"
#include "sink/redis_sink.h"
#include "sink/standalone_flush.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

using namespace apimeter;
using Ms = std::chrono::duration<double, std::milli>;

int main(int argc, char** argv) {
  const int endpoints = argc > 1 ? std::atoi(argv[1]) : 300;
  const int hours = argc > 2 ? std::atoi(argv[2]) : 24;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 20;
  auto& redis = testing::TestRedis::Get();
  RedisEndpoint ep = redis.endpoint();
  ep.command_timeout = std::chrono::milliseconds(60000);  // large flushes while loading
  RedisClient client(ep);
  if (!client.Connect().ok()) return 1;
  KeySchema schema(redis.UniquePrefix("bench"));
  const BlockKeys v2_keys(redis.UniquePrefix("bench-v2"));
  const int64_t now = SystemClock().NowSeconds() / 60 * 60;
  ManualClock clock(now * 1000000);
  SinkOptions options;
  options.slow_top_n = 100;

  // Every endpoint gets one request per minute from one of 20 customers.
  std::mt19937 rng(7);
  std::lognormal_distribution<double> latency(std::log(30000.0), 1.0);
  RedisSink sink(&client, schema, options, &clock);
  StandaloneFlush protocol(&client, v2_keys);
  BlockSink v2_sink(&client, &protocol, v2_keys, options, &clock);
  double v1_write_s = 0, v2_write_s = 0;
  uint64_t total = 0;
  // One flush per 10 minutes of traffic keeps each transaction moderate.
  for (int chunk = 0; chunk < hours * 6; ++chunk) {
    std::vector<testing::TestRequest> requests;
    for (int k = 0; k < 10; ++k) {
      const int m = chunk * 10 + k;
      const int64_t t = now - static_cast<int64_t>(hours) * 3600 + m * 60;
      for (int e = 0; e < endpoints; ++e) {
        testing::TestRequest r;
        r.time_us = t * 1000000 + e * 1000;
        r.endpoint = "GET /v1/resource" + std::to_string(e) + "/:id";
        r.customer = "customer" + std::to_string((e + m) % 20);
        r.host = e % 2 ? "web1" : "web2";
        r.status = (e + m) % 50 == 0 ? 500 : 200;
        r.bytes_out = 1000 + static_cast<uint64_t>(e);
        r.latency_us = std::llround(latency(rng));
        requests.push_back(std::move(r));
      }
    }
    total += requests.size();
    FlushBatch batch = testing::BatchFor(requests);
    batch.id = "bench-" + std::to_string(chunk);
    auto start = std::chrono::steady_clock::now();
    Status st = sink.Flush(batch);
    v1_write_s += Ms(std::chrono::steady_clock::now() - start).count() / 1000.0;
    start = std::chrono::steady_clock::now();
    if (st.ok()) st = v2_sink.Flush(batch);
    if (st.ok()) st = v2_sink.CompactPending();
    v2_write_s += Ms(std::chrono::steady_clock::now() - start).count() / 1000.0;
    if (!st.ok()) {
      std::fprintf(stderr, "flush: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  std::printf("wrote %llu requests (%d endpoints x %d h): v1 %.1f s, v2 %.1f s (with compaction)\n",
              static_cast<unsigned long long>(total), endpoints, hours, v1_write_s, v2_write_s);

  QueryEngine v1_engine(&client, schema, RetentionSeconds{}, &clock);
  auto cache = std::make_shared<BlockCache>(kDefaultBlockCacheBytes);
  QueryEngine v2_engine(MakeV2SeriesStore(&client, v2_keys, cache), RetentionSeconds{}, &clock);
  QueryParams day;
  day.from_s = now - 24 * 3600 + 37;  // unaligned: minutes + hours
  day.to_s = now;
  QueryParams hour = day;
  hour.from_s = now - 3600;
  QueryParams cust = day;
  cust.filter.customer = "customer3";
  QueryParams pair = cust;  // customer x endpoint: whole UTC days
  pair.filter.endpoint = "GET /v1/resource7/:id";
  struct Case {
    const char* name;
    std::function<Result<nlohmann::json>(QueryEngine&)> run;
  };
  const std::vector<Case> cases = {
      {"overview 1h", [&](QueryEngine& e) { return ToJson(e.Overview(hour)); }},
      {"overview 24h", [&](QueryEngine& e) { return ToJson(e.Overview(day)); }},
      {"endpoints top20 24h", [&](QueryEngine& e) { return ToJson(e.Endpoints(day)); }},
      {"endpoints of customer 24h", [&](QueryEngine& e) { return ToJson(e.Endpoints(cust)); }},
      {"customers top20 24h", [&](QueryEngine& e) { return ToJson(e.Customers(day)); }},
      {"overview cust x endpoint", [&](QueryEngine& e) { return ToJson(e.Overview(pair)); }},
      {"timeseries cust x endpoint", [&](QueryEngine& e) { return ToJson(e.Timeseries(pair)); }},
      {"timeseries 24h (5m step)", [&](QueryEngine& e) { return ToJson(e.Timeseries(day)); }},
      {"timeseries 1h (1m step)", [&](QueryEngine& e) { return ToJson(e.Timeseries(hour)); }},
      {"heatmap p95 24h", [&](QueryEngine& e) { return ToJson(e.Heatmap(day, "p95")); }},
      {"slow 24h", [&](QueryEngine& e) { return ToJson(e.Slow(day)); }},
  };
  auto run_cases = [&](const char* phase) -> bool {
    std::printf("-- v2 %s\n", phase);
    std::printf("%-28s %8s %8s %8s %8s %8s %9s %s\n", "query", "v1_p50", "v1_p95", "v2_p50",
                "v2_p95", "v2/v1", "v1_cmds", "same_json");
    for (const Case& c : cases) {
      std::vector<double> ms[2];
      uint64_t commands = 0;
      bool same = true;
      for (int i = 0; i < repeats; ++i) {
        Result<nlohmann::json> answers[2] = {Status::Internal("not run"),
                                             Status::Internal("not run")};
        for (int store = 0; store < 2; ++store) {
          QueryEngine& engine = store == 0 ? v1_engine : v2_engine;
          const uint64_t before = client.commands_sent();
          const auto start = std::chrono::steady_clock::now();
          answers[store] = c.run(engine);
          ms[store].push_back(Ms(std::chrono::steady_clock::now() - start).count());
          if (store == 0) commands = client.commands_sent() - before;
          if (!answers[store].ok()) {
            std::fprintf(stderr, "%s (v%d): %s\n", c.name, store + 1,
                         answers[store].status().ToString().c_str());
            return false;
          }
        }
        same = same && *answers[0] == *answers[1];
      }
      for (auto& m : ms) std::sort(m.begin(), m.end());
      const auto at = [&](const std::vector<double>& m, double p) {
        return m[std::min(m.size() - 1, static_cast<size_t>(p * static_cast<double>(m.size())))];
      };
      std::printf("%-28s %8.2f %8.2f %8.2f %8.2f %8.2f %9llu %s\n", c.name, at(ms[0], 0.5),
                  at(ms[0], 0.95), at(ms[1], 0.5), at(ms[1], 0.95),
                  at(ms[1], 0.95) / at(ms[0], 0.95), static_cast<unsigned long long>(commands),
                  same ? "yes" : "NO");
    }
    return true;
  };
  if (!run_cases("as written")) return 1;

  // Compact every hour and day group of the data (minute groups hold one
  // delta each here: one flush covers each minute).
  std::vector<BlockGroup> groups;
  for (Tier tier : {Tier::kHour, Tier::kDay}) {
    const int64_t width = TierSeconds(tier);
    for (int64_t b = (now - hours * 3600) / width; b <= now / width; ++b) {
      for (BlockKind kind :
           {BlockKind::kAll, BlockKind::kEndpoint, BlockKind::kCustomer, BlockKind::kCustomerEndpoint}) {
        if (kind == BlockKind::kCustomerEndpoint && tier != Tier::kDay) continue;
        const int shards = kind == BlockKind::kAll ? 1 : BlockShards(tier);
        for (int sh = 0; sh < shards; ++sh) groups.push_back({kind, tier, b, static_cast<uint16_t>(sh)});
      }
    }
  }
  BlockCompactor compactor(&client, v2_keys, options);
  if (auto r = compactor.Compact(groups); !r.ok()) {
    std::fprintf(stderr, "compact: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("compacted %llu groups\n", static_cast<unsigned long long>(compactor.stats().compacted));
  if (!run_cases("after compaction")) return 1;
  const BlockCache::Stats cs = cache->GetStats();
  std::printf("v2 block cache: %zu bases, %.1f MB, %llu hits, %llu misses\n", cs.entries,
              static_cast<double>(cs.bytes) / 1e6, static_cast<unsigned long long>(cs.hits),
              static_cast<unsigned long long>(cs.misses));
  return 0;
}

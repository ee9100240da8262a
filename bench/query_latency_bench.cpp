// Query latency on a moderately large dataset: N endpoints x H hours of
// per-minute traffic (default 300 x 24), written through RedisSink (customer x
// endpoint series at the day tier only, as the aggregator writes them), then
// each query kind run repeatedly; prints p50/p95 wall time in ms and the
// Redis commands one run sends.
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
#include "sink/redis_sink.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"

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
  const int64_t now = SystemClock().NowSeconds() / 60 * 60;
  ManualClock clock(now * 1000000);
  SinkOptions options;
  options.slow_top_n = 100;

  // Every endpoint gets one request per minute from one of 20 customers.
  std::mt19937 rng(7);
  std::lognormal_distribution<double> latency(std::log(30000.0), 1.0);
  RedisSink sink(&client, schema, options, &clock);
  const auto write_start = std::chrono::steady_clock::now();
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
    Status st = sink.Flush(testing::BatchFor(requests));
    if (!st.ok()) {
      std::fprintf(stderr, "flush: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  std::printf("wrote %llu requests (%d endpoints x %d h) in %.1f s\n",
              static_cast<unsigned long long>(total), endpoints, hours,
              Ms(std::chrono::steady_clock::now() - write_start).count() / 1000.0);

  QueryEngine engine(&client, schema, RetentionSeconds{}, &clock);
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
    std::function<Result<nlohmann::json>()> run;
  };
  const std::vector<Case> cases = {
      {"overview 1h", [&] { return engine.Overview(hour); }},
      {"overview 24h", [&] { return engine.Overview(day); }},
      {"endpoints top20 24h", [&] { return engine.Endpoints(day); }},
      {"endpoints of customer 24h", [&] { return engine.Endpoints(cust); }},
      {"customers top20 24h", [&] { return engine.Customers(day); }},
      {"overview cust x endpoint", [&] { return engine.Overview(pair); }},
      {"timeseries cust x endpoint", [&] { return engine.Timeseries(pair); }},
      {"timeseries 24h (5m step)", [&] { return engine.Timeseries(day); }},
      {"timeseries 1h (1m step)", [&] { return engine.Timeseries(hour); }},
      {"slow 24h", [&] { return engine.Slow(day); }},
  };
  std::printf("%-28s %9s %9s %9s\n", "query", "p50_ms", "p95_ms", "commands");
  for (const Case& c : cases) {
    std::vector<double> ms;
    uint64_t commands = 0;
    for (int i = 0; i < repeats; ++i) {
      const uint64_t before = client.commands_sent();
      const auto start = std::chrono::steady_clock::now();
      auto r = c.run();
      ms.push_back(Ms(std::chrono::steady_clock::now() - start).count());
      commands = client.commands_sent() - before;
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", c.name, r.status().ToString().c_str());
        return 1;
      }
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double p) {
      return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
    };
    std::printf("%-28s %9.2f %9.2f %9llu\n", c.name, at(0.5), at(0.95),
                static_cast<unsigned long long>(commands));
  }
  return 0;
}

// Storage v2 vs v1 on a 3-master Redis Cluster, one run, the same data: a
// live agent's flushes (2 s at 20K lines/s = 40,000 lines, 200 Zipf
// endpoints, 5,000 Zipf customers, through the real Aggregator). For each
// flush: commands the client sent, commands the masters processed (script-
// inner calls included), redis-server CPU summed over the masters, wall time.
// The first flush of each writer numbers the day's names (v2) and creates
// the keys; the second is the steady state. Figures only.
//
//   build/bench/cluster_v2_figures [lines_per_flush=40000] [customers=5000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "sink/block_sink.h"
#include "sink/cluster_block_flush.h"
#include "sink/redis_sink.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_cluster.h"

namespace apimeter {
namespace {

double InfoField(const std::string& info, const std::string& field) {
  const size_t p = info.find("\r\n" + field + ":");
  return p == std::string::npos ? 0 : std::atof(info.c_str() + p + field.size() + 3);
}

struct Masters {
  double cpu = 0, calls = 0;
};

// CPU and commands processed, summed over the masters.
Masters Read(testing::TestCluster& cluster, ClusterClient& client) {
  Masters m;
  for (const std::string& node : client.Masters()) {
    RedisClient c(cluster.NodeEndpoint(node));
    auto info = c.Command({"INFO", "everything"});
    if (!info.ok() || info->is_error()) continue;
    m.cpu += InfoField(info->str, "used_cpu_sys") + InfoField(info->str, "used_cpu_user");
    // commandstats counts script-inner calls too; total_commands_processed does not.
    size_t pos = 0;
    while ((pos = info->str.find("cmdstat_", pos)) != std::string::npos) {
      const size_t colon = info->str.find(':', pos);
      const size_t calls = info->str.find("calls=", colon);
      const double n = std::atof(info->str.c_str() + calls + 6);
      m.calls += n;
      pos = colon;
    }
    m.calls -= 1;  // this INFO
  }
  return m;
}

void Measure(const char* what, testing::TestCluster& cluster, ClusterClient& client,
             const std::function<Status()>& flush) {
  if (Status st = client.Connect(); !st.ok()) {  // Masters() needs the topology
    std::printf("%s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
  const Masters before = Read(cluster, client);
  const uint64_t sent = client.commands_sent();
  const auto t0 = std::chrono::steady_clock::now();
  const Status st = flush();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const Masters after = Read(cluster, client);
  if (!st.ok()) {
    std::printf("%s: FAILED %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
  std::printf("%-22s %9llu %12.0f %10.3f %9.1f\n", what,
              static_cast<unsigned long long>(client.commands_sent() - sent),
              after.calls - before.calls, after.cpu - before.cpu, wall);
}

int Main(int argc, char** argv) {
  const size_t per_flush = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 40000;
  const size_t customers = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 5000;
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const auto traffic = testing::Traffic::Make(11, 2 * per_flush, start, start + 4, 200, customers);
  testing::TestCluster cluster(3, 0);
  SystemClock clock;
  auto batch = [&](size_t i, const char* id) {
    AggregatorOptions ao;
    ao.host = "web1";
    Aggregator agg(ao);
    traffic.Feed(i * per_flush, (i + 1) * per_flush, &agg);
    FlushBatch b = agg.TakeBatch();
    b.id = id;
    b.host = "web1";
    b.checkpoints.push_back(
        {"log", i == 0 ? "" : std::to_string(per_flush), std::to_string((i + 1) * per_flush)});
    return b;
  };
  const FlushBatch first = batch(0, "first"), second = batch(1, "second");

  std::printf("3-master cluster, flushes of %zu lines, %zu customers, 200 endpoints\n",
              per_flush, customers);
  std::printf("%-22s %9s %12s %10s %9s\n", "flush", "cmds sent", "server calls", "cpu s",
              "wall ms");
  ClusterClient v1_client(cluster.Options());
  RedisSink v1(&v1_client, KeySchema("v1"), SinkOptions{}, &clock);
  Measure("v1 first (cold)", cluster, v1_client, [&] { return v1.Flush(first); });
  Measure("v1 second", cluster, v1_client, [&] { return v1.Flush(second); });

  ClusterClient v2_client(cluster.Options());
  const BlockKeys keys("v2");
  ClusterBlockFlush protocol(&v2_client, keys);
  BlockSink v2(&v2_client, &protocol, keys, SinkOptions{}, &clock);
  Measure("v2 first (cold)", cluster, v2_client, [&] { return v2.Flush(first); });
  Measure("v2 second", cluster, v2_client, [&] { return v2.Flush(second); });
  std::printf("v2: %llu blocks, %llu bytes of blocks over both flushes\n",
              static_cast<unsigned long long>(v2.stats().blocks),
              static_cast<unsigned long long>(v2.stats().block_bytes));
  return 0;
}

}  // namespace
}  // namespace apimeter

int main(int argc, char** argv) { return apimeter::Main(argc, argv); }

// Storage v2 vs v1 write path in one run, on the same realistic traffic
// (Zipf endpoints and customers over the last 24 h, through the real
// Aggregator), against a private redis-server: Redis memory and keys,
// redis-server CPU, commands (client-sent and server-counted, script-inner
// included), wall time. v2 is measured again after compacting every group.
// Figures only; nothing is gated on them.
//
//   build/bench/apimeter-store-v2-figures [lines=500000] [customers=5000] [lines_per_flush=40000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "sink/block_compactor.h"
#include "sink/block_sink.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

struct ServerStats {
  double used_memory = 0, cpu = 0, calls = 0, keys = 0;
};

double InfoField(const std::string& info, const std::string& field) {
  const size_t p = info.find("\r\n" + field + ":");
  return p == std::string::npos ? 0 : std::atof(info.c_str() + p + field.size() + 3);
}

ServerStats Read(RedisClient& c) {
  ServerStats s;
  auto info = c.Command({"INFO", "everything"});
  if (!info.ok() || info->is_error()) {
    std::fprintf(stderr, "INFO failed\n");
    std::exit(1);
  }
  s.used_memory = InfoField(info->str, "used_memory");
  s.cpu = InfoField(info->str, "used_cpu_sys") + InfoField(info->str, "used_cpu_user");
  for (size_t p = 0; (p = info->str.find("cmdstat_", p)) != std::string::npos; ++p) {
    s.calls += std::atof(info->str.c_str() + info->str.find("calls=", p) + 6);
  }
  auto n = c.Command({"DBSIZE"});
  s.keys = n.ok() ? static_cast<double>(n->integer) : 0;
  return s;
}

struct Row {
  std::string name;
  ServerStats delta;
  double client_commands = 0, wall_s = 0;
};

Row Measure(const std::string& name, RedisClient& admin, size_t lines,
            const std::function<uint64_t()>& run) {
  const ServerStats before = Read(admin);
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t commands = run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ServerStats after = Read(admin);
  Row r{name, {}, static_cast<double>(commands), wall};
  r.delta.used_memory = after.used_memory - before.used_memory;
  r.delta.cpu = after.cpu - before.cpu;
  r.delta.calls = after.calls - before.calls - 2;  // the two INFO/DBSIZE reads
  r.delta.keys = after.keys - before.keys;
  std::printf("%-26s %9.2f MB %9.0f keys %8.2f s CPU %10.0f calls %.4f/line %9.0f sent %.4f/line %7.2f s wall\n",
              name.c_str(), r.delta.used_memory / 1e6, r.delta.keys, r.delta.cpu, r.delta.calls,
              r.delta.calls / lines, r.client_commands, r.client_commands / lines, r.wall_s);
  std::fflush(stdout);
  return r;
}

int Main(int argc, char** argv) {
  const size_t lines = argc > 1 ? std::stoul(argv[1]) : 500000;
  const size_t customers = argc > 2 ? std::stoul(argv[2]) : 5000;
  const size_t per_flush = argc > 3 ? std::stoul(argv[3]) : 40000;
  auto& redis = testing::TestRedis::Private();
  RedisClient admin(redis.endpoint());
  const int64_t now = SystemClock().NowSeconds();
  const auto traffic = testing::Traffic::Make(5, lines, now - 86400 + 600, now - 60, 300, customers);
  std::printf("%zu lines over 24 h, %zu Zipf customers, 300 endpoints, %zu lines per flush\n",
              lines, customers, per_flush);
  SystemClock clock;
  RedisEndpoint ep = redis.endpoint();
  ep.command_timeout = std::chrono::seconds(120);

  // Each flush: the aggregator's batch of `per_flush` lines, as an agent would send it.
  auto flush_all = [&](const std::function<Status(FlushBatch&)>& flush) {
    for (size_t first = 0, n = 0; first < lines; first += per_flush, ++n) {
      AggregatorOptions ao;
      ao.host = "web1";
      Aggregator agg(ao);
      traffic.Feed(first, std::min(lines, first + per_flush), &agg);
      FlushBatch b = agg.TakeBatch();
      b.id = "b" + std::to_string(n);
      b.host = "web1";
      if (Status st = flush(b); !st.ok()) {
        std::fprintf(stderr, "flush failed: %s\n", st.ToString().c_str());
        std::exit(1);
      }
    }
  };

  const ServerStats base = Read(admin);
  RedisClient v2_client(ep);
  const BlockKeys v2_keys("v2");
  StandaloneFlush protocol(&v2_client, v2_keys);
  BlockSink v2(&v2_client, &protocol, v2_keys, SinkOptions{}, &clock);
  // The one-time schema check (a TYPE per retained day) outside the figures.
  if (Status st = v2.Flush(FlushBatch{.id = "warm", .host = "web1"}); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  const Row v2_row = Measure("v2 (blocks)", admin, lines, [&] {
    const uint64_t before = v2.stats().commands;
    flush_all([&](FlushBatch& b) { return v2.Flush(b); });
    return v2.stats().commands - before;
  });
  std::printf("  v2: %lu blocks, %.2f MB of blocks, %lu series in them\n",
              static_cast<unsigned long>(v2.stats().blocks), v2.stats().block_bytes / 1e6,
              static_cast<unsigned long>(v2.stats().series));

  Measure("v2 compaction of all", admin, lines, [&] {
    std::set<std::pair<Tier, int64_t>> buckets;
    for (const auto& l : traffic.lines) {
      const int64_t s = l.time_us / kMicrosPerSecond;
      for (Tier t : {Tier::kMinute, Tier::kHour, Tier::kDay}) buckets.insert({t, s / TierSeconds(t)});
    }
    std::vector<BlockGroup> groups;
    for (const auto& [tier, bucket] : buckets) {
      for (BlockKind k : {BlockKind::kAll, BlockKind::kEndpoint, BlockKind::kCustomer,
                          BlockKind::kCustomerEndpoint}) {
        if (k == BlockKind::kCustomerEndpoint && tier != Tier::kDay) continue;
        const uint16_t shards = k == BlockKind::kAll ? 1 : BlockShards(tier);
        for (uint16_t s = 0; s < shards; ++s) groups.push_back({k, tier, bucket, s});
      }
    }
    BlockCompactor compactor(&v2_client, v2_keys, SinkOptions{});
    const uint64_t before = v2_client.commands_sent();
    for (size_t i = 0; i < groups.size(); i += 64) {
      auto done = compactor.Compact(
          std::span<const BlockGroup>(groups).subspan(i, std::min<size_t>(64, groups.size() - i)));
      if (!done.ok()) {
        std::fprintf(stderr, "compaction failed: %s\n", done.status().ToString().c_str());
        std::exit(1);
      }
    }
    return v2_client.commands_sent() - before;
  });
  const ServerStats v2_total = Read(admin);

  RedisClient v1_client(ep);
  RedisSink v1(&v1_client, KeySchema("v1"), SinkOptions{}, &clock);
  const Row v1_row = Measure("v1 (hashes)", admin, lines, [&] {
    flush_all([&](FlushBatch& b) { return v1.Flush(b); });
    return v1.stats().commands;
  });
  const double v2_mb = (v2_total.used_memory - base.used_memory) / 1e6;
  std::printf(
      "Redis memory: v2 %.2f MB after compaction (%.2f MB before), v1 %.2f MB: v1/v2 %.1fx; "
      "server CPU v1/v2 %.1fx; server calls v1/v2 %.1fx\n",
      v2_mb, v2_row.delta.used_memory / 1e6, v1_row.delta.used_memory / 1e6,
      v1_row.delta.used_memory / 1e6 / std::max(1e-9, v2_mb),
      v1_row.delta.cpu / std::max(1e-9, v2_row.delta.cpu),
      v1_row.delta.calls / std::max(1.0, v2_row.delta.calls));
  return 0;
}

}  // namespace
}  // namespace apimeter

int main(int argc, char** argv) { return apimeter::Main(argc, argv); }

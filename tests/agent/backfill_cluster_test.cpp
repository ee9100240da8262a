// The same log backfilled into a standalone Redis and into a 3-master Redis
// Cluster (no replicas) must store the same thing: every key of every tier
// and every series kind, field for field, with the same expiry (issue 14,
// section 1: the cluster silently lost most day-tier series of a big flush).
//
// The log has the shape users have: one UTC day 12 days ago (past the minute
// tier's 48 h retention, so only hour and day buckets are written), ~1,900
// Zipf customers, 100 endpoints, 200,000 lines with a few malformed ones;
// plus a small file of the last hours, so the minute tier is compared too.
// Each test backfills both files into both stores, once as one big flush per
// file and once as many small flushes, through the real Runtime, Backfiller,
// parser, aggregator and sink, then compares complete dumps of the stores
// (tests/support/store_dump.h).
//
// Storage v1 (`redis.schema: 1`) is compared key by key; storage v2 (the
// default) series by series, every (tier, bucket) read back from both
// stores (BackfillBothAndCompareBlocks).
//
// Keys that legitimately differ, and how each is still checked:
// - checkpoints: `P:ckpt:<host>:<fp>` standalone, `P:{ckpt:<host>}:<fp>` in
//   the cluster (the host's hash tag); compared by value under one name.
//   Their TTL is relative (`SET ... EX`), so the expiry is not compared.
// - batch tokens: `P:flush:<id>` vs `P:{ckpt:<host>}:flush:<id>`, with random
//   batch ids: the number of tokens must equal the number of flushes.
// - cluster-only bookkeeping: group markers `P:{<T><b>.<s>}:done` (which
//   writer applied which batch to a group) have no standalone counterpart;
//   the journal `P:{ckpt:<host>}:j:<id>` and pending set must be gone once
//   every flush returned OK.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent/backfill.h"
#include "agent/runtime.h"
#include "common/time_util.h"
#include "sink/block_keys.h"
#include "sink/block_reader.h"
#include "tests/sink/block_test_util.h"
#include "tests/support/store_dump.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

namespace apimeter {
namespace {

using testing::DumpStore;
using testing::KeyCategory;
using testing::StoreDump;
using testing::TestCluster;
using testing::TestRedis;

constexpr int64_t kDaySeconds = 86400;
constexpr int kDayLines = 100000;
constexpr int kRecentLines = 2000;
constexpr int kCustomers = 1900;
constexpr int kEndpoints = 100;
constexpr const char* kHost = "bf-host";

TestCluster& Cluster() {
  static TestCluster cluster(3, 0);
  return cluster;
}

class NoSleep : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds) override {}
};

struct Rng {  // splitmix64: small, fast and reproducible
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
};

// Writes `lines` API-format lines spread evenly over [from, to) (one in
// ~1,000 malformed): customers Zipf(1.2) over kCustomers keys (2% without a
// key: anonymous), each using kEndpoints endpoints with Zipf(1.7) weights in
// an order of its own (so a day has ~18K customer x endpoint pairs for 200K
// lines, as in the issue); ids in half of the paths.
void WriteLog(const std::string& path, int64_t from, int64_t to, int lines, uint64_t seed) {
  Rng rng{seed};
  auto zipf_cdf = [](int n, double s) {
    std::vector<double> cdf(n);
    double sum = 0;
    for (int i = 0; i < n; ++i) cdf[i] = sum += 1.0 / std::pow(i + 1, s);
    return cdf;
  };
  const std::vector<double> customer_cdf = zipf_cdf(kCustomers, 1.2);
  const std::vector<double> endpoint_cdf = zipf_cdf(kEndpoints, 1.7);
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  static const int kStatus[] = {200, 200, 200, 200, 200, 200, 200, 201, 204, 404, 429, 500};
  std::ofstream out(path, std::ios::binary);
  std::string line;
  char buf[512];
  for (int i = 0; i < lines; ++i) {
    if (i % 997 == 500) {
      out << "garbage line " << i << " that no log_format matches\n";
      continue;
    }
    const time_t t = static_cast<time_t>(from + (to - from) * i / lines);
    tm tm{};
    gmtime_r(&t, &tm);
    char when[64];
    std::strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    const double u = rng.Uniform() * customer_cdf.back();
    const int customer = static_cast<int>(
        std::lower_bound(customer_cdf.begin(), customer_cdf.end(), u) - customer_cdf.begin());
    // Each customer favours a few endpoints of its own (Zipf over a rotation).
    const double v = rng.Uniform() * endpoint_cdf.back();
    const int rank = static_cast<int>(
        std::lower_bound(endpoint_cdf.begin(), endpoint_cdf.end(), v) - endpoint_cdf.begin());
    const int ep = (customer * 37 + rank) % kEndpoints;
    std::string target = "/v1/svc" + std::to_string(ep);
    if (ep % 2 == 1) target += "/" + std::to_string(rng.Next() % 100000);
    const std::string key = rng.Next() % 50 == 0 ? "-" : "key-" + std::to_string(customer);
    const double latency = std::exp(-4.0 + 1.2 * (rng.Uniform() + rng.Uniform() - 1.0) * 2.0);
    const int status = kStatus[rng.Next() % std::size(kStatus)];
    std::snprintf(buf, sizeof buf,
                  "10.0.%d.%d - - [%s] \"%s %s HTTP/1.1\" %d %d \"-\" \"client/1.0\" %.3f %.3f "
                  "\"%s\" %d\n",
                  static_cast<int>(rng.Next() % 256), static_cast<int>(rng.Next() % 256), when,
                  kMethods[ep % 4], target.c_str(), status,
                  static_cast<int>(100 + rng.Next() % 20000), latency, latency * 0.9, key.c_str(),
                  static_cast<int>(200 + rng.Next() % 800));
    out << buf;
  }
}

struct FlushShape {
  uint64_t flush_every_lines;
  size_t read_chunk_bytes;
};

class BackfillClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("apimeter-bfcluster-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    const int64_t now = SystemClock().NowSeconds();
    day_ = now / kDaySeconds - 12;
    day_file_ = (dir_ / "api.log.1").string();
    recent_file_ = (dir_ / "api.log").string();
    WriteLog(day_file_, day_ * kDaySeconds, (day_ + 1) * kDaySeconds, kDayLines, 14);
    WriteLog(recent_file_, now - 3600, now - 300, kRecentLines, 15);
    prefix_ = TestRedis::Get().UniquePrefix("bfc");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Yaml(const std::string& redis) const {
    return std::string("sources:\n  - paths: [\"") + (dir_ / "api.log*").string() +
           "\"]\n    log_format: '$remote_addr - $remote_user [$time_local] \"$request\" "
           "$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time "
           "$upstream_response_time \"$http_x_api_key\" $request_length'\n"
           "    customer: $http_x_api_key\n    latency: $request_time\n    host: " +
           kHost +
           "\n"
           "customer_id_secret: \"backfill-cluster-test-secret\"\n"
           "redis: { " +
           redis + ", prefix: \"" + prefix_ +
           // One EXEC of this size can take longer than the default 5 s on a
           // busy machine; a timeout is handled (retry, token) but costs time.
           "\", command_timeout: 60s, schema: " + std::to_string(schema_) + " }\n";
  }

  struct Run {
    std::unique_ptr<Runtime> rt;
    uint64_t flushes = 0;
  };

  // The `redis:` entries of the test cluster's seeds.
  static std::string ClusterRedisYaml() {
    std::string seeds;
    for (const std::string& s : Cluster().seeds())
      seeds += (seeds.empty() ? "\"" : ", \"") + s + "\"";
    return "cluster: [" + seeds + "]";
  }

  // Every key of the prefix on the cluster's masters (all 3 of them).
  Result<StoreDump> DumpCluster(Run& cluster) const {
    std::vector<RedisEndpoint> masters;
    for (const std::string& m : cluster.rt->redis().AsCluster()->Masters()) {
      masters.push_back(Cluster().NodeEndpoint(m));
    }
    if (masters.size() != 3) {
      return Status::Internal("the test cluster has " + std::to_string(masters.size()) +
                              " masters, not 3");
    }
    return DumpStore(masters, prefix_);
  }

  // Backfills both files (oldest first, as `apimeter backfill` does).
  Run Backfill(const std::string& redis_yaml, FlushShape shape) {
    Run run;
    auto config = LoadConfigString(Yaml(redis_yaml), "test.yaml");
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    if (!config.ok()) return run;
    auto rt = Runtime::Create(*config, &clock_);
    EXPECT_TRUE(rt.ok()) << rt.status().ToString();
    if (!rt.ok()) return run;
    run.rt = std::move(rt).value();
    Status st = run.rt->ConnectRedis();
    EXPECT_TRUE(st.ok()) << st.ToString();
    for (const std::string& path : {day_file_, recent_file_}) {
      Aggregator aggregator(run.rt->aggregator_options());
      RejectedLines rejected;
      SourceRuntime& src = run.rt->sources().front();
      LinePipeline pipeline(&src.parser, &src.customer_key, &run.rt->normalizer(),
                            &run.rt->customers(), &aggregator, &rejected, &clock_);
      BackfillOptions options;
      options.host = kHost;
      options.flush_every_lines = shape.flush_every_lines;
      options.read_chunk_bytes = shape.read_chunk_bytes;
      Backfiller backfiller(options, &run.rt->sink(), &sleeper_);
      st = backfiller.RunFile(path, pipeline, aggregator);
      EXPECT_TRUE(st.ok()) << path << ": " << st.ToString();
      run.flushes += backfiller.stats().flushes;
    }
    return run;
  }

  // Standalone vs cluster, every key; see the file comment for the keys
  // compared under another name or not at all.
  void BackfillBothAndCompare(FlushShape shape) {
    const auto started = std::chrono::steady_clock::now();
    auto lap = [&, last = started]() mutable {
      const auto now = std::chrono::steady_clock::now();
      const double s = std::chrono::duration<double>(now - last).count();
      last = now;
      return s;
    };
    Run single = Backfill("url: \"" + TestRedis::Get().url() + "\"", shape);
    std::printf("standalone backfill: %.1f s\n", lap());
    Run cluster = Backfill(ClusterRedisYaml(), shape);
    std::printf("cluster backfill: %.1f s\n", lap());
    ASSERT_TRUE(single.rt && cluster.rt);
    ASSERT_EQ(single.flushes, cluster.flushes);

    auto a = DumpStore({TestRedis::Get().endpoint()}, prefix_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    auto b = DumpCluster(cluster);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::printf("dumps: %.1f s\n", lap());

    const KeySchema schema(prefix_);
    std::map<std::string, size_t> count_a, count_b, tokens;
    StoreDump want, got;
    for (const auto& [key, value] : *a) {
      const std::string cat = KeyCategory(prefix_, key);
      ++count_a[cat];
      if (cat == "token") {
        ++tokens["standalone"];
      } else if (cat == "checkpoint") {
        // Same name as the cluster's; relative TTL (SET EX): expiry not compared.
        const std::string fp = key.substr(schema.CheckpointKey(kHost, "").size());
        want[schema.ClusterCheckpointKey(kHost, fp)] = {value.type, value.value, 0};
      } else {
        want[key] = value;
      }
    }
    for (const auto& [key, value] : *b) {
      const std::string cat = KeyCategory(prefix_, key);
      ++count_b[cat];
      if (cat == "token") {
        ++tokens["cluster"];
      } else if (cat == "checkpoint") {
        got[key] = {value.type, value.value, 0};
      } else if (cat != "marker") {
        got[key] = value;  // journals and pending sets included: there must be none
      }
    }
    EXPECT_EQ(count_a.count("unknown") + count_b.count("unknown"), 0u);
    EXPECT_EQ(count_b["journal"] + count_b["pending"], 0u) << "a journal was left behind";
    EXPECT_EQ(tokens["standalone"], single.flushes);
    EXPECT_EQ(tokens["cluster"], cluster.flushes);
    // The data set covers every tier and every series kind written.
    for (const char* cat :
         {"m:all", "m:h",   "m:e",   "m:c",  "m:max", "m:ie",  "m:ic",     "m:icb",
          "m:ih",  "h:all", "h:h",   "h:e",  "h:c",   "h:max", "h:ie",     "h:ic",
          "h:icb", "h:ih",  "d:all", "d:h",  "d:e",   "d:c",   "d:ce",     "d:max",
          "d:ie",  "d:ic",  "d:icb", "d:ih", "d:ice", "slow",  "registry", "checkpoint"}) {
      EXPECT_GT(count_a[cat], 0u) << cat;
    }
    EXPECT_EQ(count_a["m:ce"] + count_a["h:ce"] + count_a["m:ice"] + count_a["h:ice"], 0u);

    // The difference, by category, then the first few keys.
    std::map<std::string, std::array<size_t, 3>> diff;  // missing, extra, different
    std::vector<std::string> examples;
    auto note = [&](const std::string& key, int what, const std::string& text) {
      ++diff[KeyCategory(prefix_, key)][what];
      if (examples.size() < 6) examples.push_back(text.substr(0, 400));
    };
    for (const auto& [key, value] : want) {
      auto it = got.find(key);
      if (it == got.end()) {
        note(key, 0, "missing in the cluster: " + key);
      } else if (!(it->second == value)) {
        note(key, 2,
             key + ": standalone " + value.type + " expire " + std::to_string(value.expire_at) +
                 ": " + value.value + " / cluster " + it->second.type + " expire " +
                 std::to_string(it->second.expire_at) + ": " + it->second.value);
      }
    }
    for (const auto& [key, value] : got) {
      if (want.count(key) == 0) note(key, 1, "only in the cluster: " + key);
    }
    std::string report;
    for (const auto& [cat, n] : diff) {
      report += "  " + cat + ": standalone " + std::to_string(count_a[cat]) + " keys, cluster " +
                std::to_string(count_b[cat]) + "; missing " + std::to_string(n[0]) + ", extra " +
                std::to_string(n[1]) + ", different " + std::to_string(n[2]) + "\n";
    }
    for (const std::string& e : examples) report += "  " + e + "\n";
    EXPECT_TRUE(diff.empty()) << "standalone and cluster stores differ:\n" << report;

    // A clean run never finds a group "already applied": that would be a skip.
    EXPECT_EQ(cluster.rt->sink().ExportStats().groups_already_applied, 0u);

    // The symptom, as users see it: a day-tier plan answers the same.
    QueryParams p;
    p.from_s = (day_ - 1) * kDaySeconds;
    p.to_s = (day_ + 2) * kDaySeconds;
    p.limit = 1000;
    auto ca = ToJson(single.rt->query().Customers(p));
    auto cb = ToJson(cluster.rt->query().Customers(p));
    ASSERT_TRUE(ca.ok() && cb.ok());
    EXPECT_EQ(*cb, *ca);
    auto total = cluster.rt->query().SeriesTotal(SeriesKind::kAll, "", day_ * kDaySeconds,
                                                 (day_ + 1) * kDaySeconds);
    ASSERT_TRUE(total.ok()) << total.status().ToString();
    const uint64_t malformed = (kDayLines - 500 + 996) / 997;
    EXPECT_EQ(total->requests, static_cast<uint64_t>(kDayLines) - malformed);
    EXPECT_EQ(total->rejected, malformed);
    std::printf(
        "day-tier keys: standalone %zu, cluster %zu; %zu keys compared; %llu flushes; "
        "%.1f s\n",
        KeysOfTier(*a, 'd'), KeysOfTier(*b, 'd'), want.size(),
        static_cast<unsigned long long>(cluster.flushes),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }

  // Storage v2: blocks cannot be compared byte for byte (compaction and the
  // lists' make-up depend on flush timing and slots), so every (tier,
  // bucket) that has a block list in either store is read back by name on
  // both, and every series must be equal, field for field.
  void BackfillBothAndCompareBlocks(FlushShape shape) {
    schema_ = 2;
    Run single = Backfill("url: \"" + TestRedis::Get().url() + "\"", shape);
    Run cluster = Backfill(ClusterRedisYaml(), shape);
    ASSERT_TRUE(single.rt && cluster.rt);
    ASSERT_EQ(single.flushes, cluster.flushes);

    auto a = DumpStore({TestRedis::Get().endpoint()}, prefix_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    auto b = DumpCluster(cluster);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const auto buckets = BlockBuckets(*a);
    EXPECT_EQ(BlockBuckets(*b), buckets);
    std::set<Tier> tiers;
    for (const auto& [tier, bucket] : buckets) tiers.insert(tier);
    EXPECT_EQ(tiers.size(), 3u) << "the logs cover every tier";
    for (const auto& [key, value] : *b) {
      EXPECT_EQ(key.find(":journal"), std::string::npos) << "a journal was left: " << key;
      EXPECT_EQ(key.find(":j:"), std::string::npos) << "a journal was left: " << key;
    }

    const BlockKeys keys(prefix_);
    NameDictionaries names_a, names_b;
    size_t series = 0;
    for (const auto& [tier, bucket] : buckets) {
      SCOPED_TRACE(std::string("tier ") + TierLetter(tier) + " bucket " + std::to_string(bucket));
      auto want = ReadBucketSeries(single.rt->redis(), keys, tier, bucket, &names_a);
      auto got = ReadBucketSeries(cluster.rt->redis(), keys, tier, bucket, &names_b);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), want->size());
      for (const auto& [name, r] : *want) {
        auto it = got->find(name);
        ASSERT_NE(it, got->end()) << "missing in the cluster: '" << name.name << "'";
        ASSERT_EQ(block_test::Normalize(it->second), block_test::Normalize(r))
            << "series '" << name.name << "'";
      }
      series += want->size();
    }
    auto total = cluster.rt->query().SeriesTotal(SeriesKind::kAll, "", day_ * kDaySeconds,
                                                 (day_ + 1) * kDaySeconds);
    ASSERT_TRUE(total.ok()) << total.status().ToString();
    const uint64_t malformed = (kDayLines - 500 + 996) / 997;
    EXPECT_EQ(total->requests, static_cast<uint64_t>(kDayLines) - malformed);
    EXPECT_EQ(total->rejected, malformed);
    std::printf("v2: %zu buckets, %zu series compared; %llu flushes\n", buckets.size(), series,
                static_cast<unsigned long long>(cluster.flushes));
  }

  // (tier, bucket) of every v2 block list ("<prefix>:{<T><b>.<s>}:<kind>").
  std::set<std::pair<Tier, int64_t>> BlockBuckets(const StoreDump& dump) const {
    std::set<std::pair<Tier, int64_t>> out;
    for (const auto& [key, value] : dump) {
      if (key.size() < prefix_.size() + 4 || key.compare(0, prefix_.size() + 2, prefix_ + ":{"))
        continue;
      const size_t open = prefix_.size() + 2, dot = key.find('.', open), close = key.find('}');
      if (close == std::string::npos || dot > close) continue;
      const std::string kind = key.substr(close + 2);
      const auto tier = TierFromLetter(key[open]);
      if (!tier || (kind != "a" && kind != "e" && kind != "c" && kind != "x")) continue;
      out.insert({*tier, std::stoll(key.substr(open + 1, dot - open - 1))});
    }
    return out;
  }

  size_t KeysOfTier(const StoreDump& dump, char tier) const {
    return static_cast<size_t>(std::count_if(dump.begin(), dump.end(), [&](const auto& kv) {
      const std::string cat = KeyCategory(prefix_, kv.first);
      return cat.size() > 2 && cat[0] == tier && cat[1] == ':';
    }));
  }

  SystemClock clock_;
  NoSleep sleeper_;
  std::filesystem::path dir_;
  int64_t day_ = 0;
  std::string day_file_, recent_file_, prefix_;
  int schema_ = 1;  // v1's keys are compared one by one; v2's blocks by series
};

TEST_F(BackfillClusterTest, OneBigFlushStoresTheSameAsStandalone) {
  BackfillBothAndCompare({/*flush_every_lines=*/10000000, /*read_chunk_bytes=*/1 << 20});
}

TEST_F(BackfillClusterTest, ManySmallFlushesStoreTheSameAsStandalone) {
  // A flush after every 256 KiB read: ~150 flushes of ~1,300 lines each.
  BackfillBothAndCompare({/*flush_every_lines=*/1000, /*read_chunk_bytes=*/256 << 10});
}

TEST_F(BackfillClusterTest, StorageV2OneBigFlushStoresTheSameSeriesAsStandalone) {
  BackfillBothAndCompareBlocks({/*flush_every_lines=*/10000000, /*read_chunk_bytes=*/1 << 20});
}

TEST_F(BackfillClusterTest, StorageV2ManySmallFlushesStoreTheSameSeriesAsStandalone) {
  BackfillBothAndCompareBlocks({/*flush_every_lines=*/1000, /*read_chunk_bytes=*/256 << 10});
}

}  // namespace
}  // namespace apimeter

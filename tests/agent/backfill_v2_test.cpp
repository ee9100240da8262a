// The product writing storage v2 (redis.schema: 2) against a real
// redis-server: Runtime builds a BlockSink, backfill loads a file exactly
// once (checkpoints under v1's keys), every bucket reads back exactly with
// ReadBucketSeries, and the closed buckets are compacted at the end; the
// schema check refuses v1 data to a v2 process and v2 data to a v1 one;
// schema 2 with redis.cluster is refused until the cluster protocol lands.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/backfill.h"
#include "agent/runtime.h"
#include "sink/block_reader.h"
#include "tests/agent/backfill_test_util.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::NoSleep;

std::string Line(int minute, const std::string& path, int status, const std::string& key) {
  return testing::BackfillLine(minute, path, status, key);
}
constexpr int64_t kHour10 = 1795687200 / 3600;

class BackfillV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("apimeter-backfill-v2-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    prefix_ = testing::TestRedis::Get().UniquePrefix("bf2");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::unique_ptr<Runtime>> Make(int schema, const std::string& redis = "") {
    auto& r = testing::TestRedis::Get();
    const std::string yaml =
        std::string("sources:\n  - paths: [\"") + (dir_ / "api.log").string() +
        "\"]\n    log_format: '$remote_addr - $remote_user [$time_local] \"$request\" $status "
        "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time "
        "$upstream_response_time \"$http_x_api_key\" $request_length'\n"
        "    customer: $http_x_api_key\n    latency: $request_time\n    host: bf-host\n"
        "customer_id_secret: \"backfill-test-secret-0001\"\n"
        "retention: { minute: 3650d, hour: 3650d, day: 3650d }\n"
        "redis: { " + (redis.empty() ? "url: \"" + r.url() + "\"" : redis) + ", prefix: \"" +
        prefix_ + "\", schema: " + std::to_string(schema) + " }\n";
    auto config = LoadConfigString(yaml, "test.yaml");
    if (!config.ok()) return config.status();
    return Runtime::Create(*config, &clock_);
  }

  uint64_t Backfill(Runtime& rt, const std::string& path) {
    Aggregator aggregator(rt.aggregator_options());
    SourceRuntime& src = rt.sources().front();
    LinePipeline pipeline(&src.parser, &src.customer_key, &rt.normalizer(), &rt.customers(),
                          &aggregator, &rejected_, &clock_, rt.pipeline_options(false));
    BackfillOptions options;
    options.host = "bf-host";
    options.flush_every_lines = 7;  // many small flushes: groups get several blocks
    options.read_chunk_bytes = 100;
    Backfiller backfiller(options, &rt.sink(), &sleeper_);
    Status st = backfiller.RunFile(path, pipeline, aggregator);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return backfiller.stats().lines;
  }

  std::string Write(const std::string& name, const std::string& content) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  ManualClock clock_{1795694400LL * 1000000};  // 2026-11-26T12:00Z
  RejectedLines rejected_;
  std::string prefix_;
  NoSleep sleeper_;
  std::filesystem::path dir_;
};

TEST_F(BackfillV2Test, LoadsExactlyOnceReadsBackEveryBucketAndCompactsClosedOnes) {
  auto rt = Make(2);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Runtime& r = **rt;
  ASSERT_TRUE(r.ConnectRedis().ok());
  EXPECT_EQ(r.sink().schema_version(), 2);
  std::string content;
  for (int i = 0; i < 60; ++i) {
    content += Line(i % 20, "/v1/orders/" + std::to_string(i), i % 4 == 0 ? 500 : 200,
                    i % 3 == 0 ? "ka" : "kb");
  }
  const std::string p = Write("api.log.1", content);
  EXPECT_EQ(Backfill(r, p), 60u);
  EXPECT_EQ(Backfill(r, p), 0u) << "the checkpoint (v1's key) covers every line";

  const BlockKeys keys(prefix_);
  auto hour = ReadBucketSeries(r.redis(), keys, Tier::kHour, kHour10);
  ASSERT_TRUE(hour.ok()) << hour.status().ToString();
  const Rollup& all = hour->at({SeriesKind::kAll, ""});
  EXPECT_EQ(all.requests, 60u);
  EXPECT_EQ(all.StatusCount(500), 15u);
  EXPECT_EQ(hour->at({SeriesKind::kHost, "bf-host"}).requests, 60u);
  uint64_t minutes = 0;
  for (int m = 0; m < 20; ++m) {
    auto minute = ReadBucketSeries(r.redis(), keys, Tier::kMinute, kHour10 * 60 + m);
    ASSERT_TRUE(minute.ok()) << minute.status().ToString();
    EXPECT_EQ(minute->at({SeriesKind::kAll, ""}).requests, 3u) << m;
    minutes += minute->at({SeriesKind::kAll, ""}).requests;
  }
  EXPECT_EQ(minutes, 60u);

  // The hour has one block per flush (9 flushes); once compacted, one.
  const BlockGroup hour_all{BlockKind::kAll, Tier::kHour, kHour10, 0};
  auto before = r.redis().Command({"LLEN", keys.ListKey(hour_all)});
  ASSERT_TRUE(before.ok());
  EXPECT_GT(before->integer, 1);
  uint64_t compacted = 0;
  ASSERT_TRUE(CompactWrittenGroups(r.sink(), 4, &compacted).ok());
  EXPECT_GT(compacted, 0u);
  EXPECT_EQ(r.sink().ExportStats().compactions_pending, 0u);
  auto after = r.redis().Command({"LLEN", keys.ListKey(hour_all)});
  EXPECT_EQ(after->integer, 1);
  auto again = ReadBucketSeries(r.redis(), keys, Tier::kHour, kHour10);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->at({SeriesKind::kAll, ""}).requests, 60u);
  EXPECT_EQ(again->at({SeriesKind::kAll, ""}).StatusCount(500), 15u);
}

TEST_F(BackfillV2Test, ASchemaIsNeverMixedWithTheOther) {
  const std::string p = Write("api.log.1", Line(1, "/v1/a", 200, "ka"));
  {
    auto v1 = Make(1);
    ASSERT_TRUE(v1.ok());
    ASSERT_TRUE((*v1)->ConnectRedis().ok());
    EXPECT_EQ(Backfill(**v1, p), 1u);
  }
  auto v2 = Make(2);
  ASSERT_TRUE(v2.ok());
  Status st = (*v2)->ConnectRedis();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("apimeter migrate"), std::string::npos) << st.message();

  prefix_ = testing::TestRedis::Get().UniquePrefix("bf2b");
  auto v2b = Make(2);
  ASSERT_TRUE(v2b.ok());
  ASSERT_TRUE((*v2b)->ConnectRedis().ok());
  EXPECT_EQ(Backfill(**v2b, p), 1u);
  auto v1b = Make(1);
  ASSERT_TRUE(v1b.ok());
  st = (*v1b)->ConnectRedis();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("redis.schema: 1"), std::string::npos) << st.message();
}

// Schema 2 on a cluster is built with the cluster protocol (nothing is
// connected yet; sink_cluster_block_flush_test covers the protocol itself).
TEST_F(BackfillV2Test, Schema2WithAClusterIsBuiltWithTheClusterProtocol) {
  auto rt = Make(2, "cluster: [\"127.0.0.1:1\"]");
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Status st = (*rt)->CreateRedis();
  EXPECT_TRUE(st.ok()) << st.ToString();
}

}  // namespace
}  // namespace apimeter

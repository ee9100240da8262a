// BlockSink's compaction scheduling against a real redis-server, with a
// manual clock: closed buckets (bucket end + kCompactAfterCloseS) that a
// writer appended to more than once are compacted by Maintain, bounded per
// call; open ones wait until the writer says it is done; one-block groups
// are forgotten; a failed round keeps its groups for the next. The counts
// never change.
#include <gtest/gtest.h>

#include "common/time_util.h"
#include "sink/block_reader.h"
#include "sink/block_sink.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/fault_injecting_redis.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::Normalize;
using testing::FaultInjectingRedis;
using testing::TestRedis;

// Recent data (Redis expires keys by its own clock): a minute 30 minutes ago.
const int64_t kT0 = (SystemClock().NowSeconds() / 3600) * 3600 - 3600 + 600;
constexpr int64_t kMinuteCloses = 60 + BlockSink::kCompactAfterCloseS;

int64_t Bucket(Tier tier, int64_t t) { return sink_internal::FloorDiv(t, TierSeconds(tier)); }

FlushBatch Batch(const std::string& id, int64_t t, int requests) {
  FlushBatch b;
  b.id = id;
  b.host = "web1";
  Rollup r;
  for (int i = 0; i < requests; ++i) r.AddRequest(200 + (i % 3), 10, 100, 1000 + i);
  for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    for (SeriesKind kind : {SeriesKind::kAll, SeriesKind::kHost, SeriesKind::kEndpoint,
                            SeriesKind::kCustomer}) {
      SeriesDelta d;
      d.tier = tier;
      d.bucket = Bucket(tier, t);
      d.kind = kind;
      d.name = kind == SeriesKind::kAll ? "" : kind == SeriesKind::kHost ? "web1" : "n";
      d.rollup = r;
      b.series.push_back(std::move(d));
    }
  }
  return b;
}

class BlockSinkMaintainTest : public ::testing::Test {
 protected:
  BlockSinkMaintainTest()
      : redis_(TestRedis::Private()),
        keys_(redis_.UniquePrefix("maint")),
        client_(redis_.endpoint()),
        reader_(redis_.endpoint()),
        clock_(kT0 * kMicrosPerSecond) {}

  int64_t Llen(Tier tier, int64_t t, BlockKind kind) {
    const uint16_t shard = kind == BlockKind::kAll ? 0 : BlockKeys::ShardOfName(tier, "n");
    auto r = reader_.Command({"LLEN", keys_.ListKey({kind, tier, Bucket(tier, t), shard})});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->integer : -1;
  }
  std::map<SeriesName, block_test::NormalRollup> Read(Tier tier, int64_t t) {
    auto r = ReadBucketSeries(reader_, keys_, tier, Bucket(tier, t));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::map<SeriesName, block_test::NormalRollup> out;
    if (r.ok()) {
      for (const auto& [name, rollup] : *r) out[name] = Normalize(rollup);
    }
    return out;
  }

  TestRedis& redis_;
  BlockKeys keys_;
  RedisClient client_;
  RedisClient reader_;
  ManualClock clock_;
};

TEST_F(BlockSinkMaintainTest, ClosedBucketsAreCompactedAfterTheirGraceAndOpenOnesWait) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  ASSERT_TRUE(sink.Flush(Batch("b1", kT0 + 5, 3)).ok());
  ASSERT_TRUE(sink.Flush(Batch("b2", kT0 + 40, 4)).ok());
  ASSERT_TRUE(sink.Flush(Batch("b3", kT0 + 70, 1)).ok());  // next minute: one block
  const auto minute = Read(Tier::kMinute, kT0), hour = Read(Tier::kHour, kT0);
  ASSERT_EQ(Llen(Tier::kMinute, kT0, BlockKind::kAll), 2);

  // Before the minute closes (end + grace + 1 min): nothing is due.
  clock_.Set((kT0 + kMinuteCloses - 1) * kMicrosPerSecond);
  EXPECT_EQ(sink.closed_to_compact(), 0u);
  ASSERT_TRUE(sink.Maintain(100).ok());
  EXPECT_EQ(sink.ExportStats().compactions, 0u);
  EXPECT_EQ(Llen(Tier::kMinute, kT0, BlockKind::kAll), 2);

  // Closed: its 3 groups (a, e, c) are due; at most 2 per call.
  clock_.Set((kT0 + kMinuteCloses) * kMicrosPerSecond);
  EXPECT_EQ(sink.closed_to_compact(), 3u);
  ASSERT_TRUE(sink.Maintain(2).ok());
  EXPECT_EQ(sink.ExportStats().compactions, 2u);
  ASSERT_TRUE(sink.Maintain(2).ok());
  EXPECT_EQ(sink.ExportStats().compactions, 3u);
  EXPECT_EQ(sink.ExportStats().compactions_pending, 0u);
  for (BlockKind k : {BlockKind::kAll, BlockKind::kEndpoint, BlockKind::kCustomer}) {
    EXPECT_EQ(Llen(Tier::kMinute, kT0, k), 1) << BlockKindLetter(k);
    EXPECT_EQ(Llen(Tier::kHour, kT0, k), 3) << "the hour is still open";
  }
  EXPECT_EQ(Read(Tier::kMinute, kT0), minute);

  // The next minute (one block per group) and then the hour: once closed,
  // one-block groups are forgotten without work, the hour's are compacted.
  const size_t tracked = sink.tracked_groups();
  const int64_t hour_end = (Bucket(Tier::kHour, kT0) + 1) * 3600;
  clock_.Set((hour_end + BlockSink::kCompactAfterCloseS) * kMicrosPerSecond);
  EXPECT_EQ(sink.closed_to_compact(), 3u);  // the hour's a, e, c (3 blocks each)
  ASSERT_TRUE(sink.Maintain(100).ok());
  EXPECT_EQ(sink.ExportStats().compactions, 6u);
  EXPECT_LT(sink.tracked_groups(), tracked);
  EXPECT_EQ(Llen(Tier::kMinute, kT0 + 70, BlockKind::kAll), 1);
  EXPECT_EQ(Llen(Tier::kHour, kT0, BlockKind::kAll), 1);
  EXPECT_EQ(Llen(Tier::kDay, kT0, BlockKind::kAll), 3) << "the day is still open";
  EXPECT_EQ(Read(Tier::kHour, kT0), hour);
  EXPECT_EQ(sink.ExportStats().blocks_merged, 3u * 2 + 3u * 3);
}

TEST_F(BlockSinkMaintainTest, AFailedRoundKeepsItsGroupsForTheNext) {
  StandaloneFlush protocol(&client_, keys_);
  FaultInjectingRedis faulty(&client_);
  BlockSink sink(&faulty, &protocol, keys_, SinkOptions{}, &clock_);
  ASSERT_TRUE(sink.Flush(Batch("b1", kT0 + 5, 3)).ok());
  ASSERT_TRUE(sink.Flush(Batch("b2", kT0 + 40, 4)).ok());
  const auto minute = Read(Tier::kMinute, kT0);
  clock_.Set((kT0 + kMinuteCloses) * kMicrosPerSecond);
  faulty.Fail([](const RedisArgs& a) { return a[0] == "LRANGE"; },
              FaultInjectingRedis::Where::kInExec, "ERR injected");
  Status st = sink.Maintain(100);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(faulty.AllFired());
  EXPECT_EQ(sink.ExportStats().compaction_failures, 1u);
  EXPECT_EQ(sink.closed_to_compact(), 3u);
  EXPECT_EQ(Llen(Tier::kMinute, kT0, BlockKind::kAll), 2);
  ASSERT_TRUE(sink.Maintain(100).ok());
  EXPECT_EQ(sink.ExportStats().compactions, 3u);
  EXPECT_EQ(Read(Tier::kMinute, kT0), minute);
}

TEST_F(BlockSinkMaintainTest, LengthTriggeredGroupsAreCompactedBeforeTheyClose) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  for (int i = 0; i < BlockSink::kCompactAtLength; ++i) {
    ASSERT_TRUE(sink.Flush(Batch("b" + std::to_string(i), kT0 + 5, 1)).ok());
  }
  const auto minute = Read(Tier::kMinute, kT0);
  EXPECT_GT(sink.pending_compactions(), 0u);
  ASSERT_TRUE(sink.Maintain(1000).ok());  // the minute is open: only the long lists
  EXPECT_EQ(sink.pending_compactions(), 0u);
  EXPECT_EQ(Llen(Tier::kMinute, kT0, BlockKind::kAll), 1);
  // Written again after that compaction: base + delta, compacted once closed.
  ASSERT_TRUE(sink.Flush(Batch("late", kT0 + 6, 2)).ok());
  EXPECT_EQ(Llen(Tier::kMinute, kT0, BlockKind::kAll), 2);
  clock_.Set((kT0 + kMinuteCloses) * kMicrosPerSecond);
  ASSERT_TRUE(sink.Maintain(1000).ok());
  EXPECT_EQ(Llen(Tier::kMinute, kT0, BlockKind::kAll), 1);
  auto after = Read(Tier::kMinute, kT0);
  EXPECT_NE(after, minute);  // the late 2 requests are in
  EXPECT_EQ(after.at({SeriesKind::kAll, ""}).counters.requests, BlockSink::kCompactAtLength + 2u);
}

TEST_F(BlockSinkMaintainTest, OnceWritingIsDoneOpenBucketsAreCompactedAndLaterWritesAppend) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  ASSERT_TRUE(sink.Flush(Batch("b1", kT0 + 5, 3)).ok());
  ASSERT_TRUE(sink.Flush(Batch("b2", kT0 + 40, 4)).ok());
  ASSERT_TRUE(sink.Flush(Batch("b3", kT0 + 70, 1)).ok());  // next minute: one block
  const auto minute = Read(Tier::kMinute, kT0), day = Read(Tier::kDay, kT0);
  // Every bucket is open by the clock.
  EXPECT_EQ(sink.closed_to_compact(), 0u);
  sink.MarkWritingDone();
  // The first minute's a, e, c (2 blocks), the hour's and the day's (3): 9
  // groups; the second minute's (1 block) have nothing to merge.
  EXPECT_EQ(sink.closed_to_compact(), 9u);
  ASSERT_TRUE(sink.Maintain(100).ok());
  EXPECT_EQ(sink.ExportStats().compactions, 9u);
  EXPECT_EQ(sink.ExportStats().compactions_pending, 0u);
  for (BlockKind k : {BlockKind::kAll, BlockKind::kEndpoint, BlockKind::kCustomer}) {
    EXPECT_EQ(Llen(Tier::kMinute, kT0, k), 1) << BlockKindLetter(k);
    EXPECT_EQ(Llen(Tier::kHour, kT0, k), 1) << BlockKindLetter(k);
    EXPECT_EQ(Llen(Tier::kDay, kT0, k), 1) << BlockKindLetter(k);
  }
  EXPECT_EQ(Read(Tier::kMinute, kT0), minute);
  EXPECT_EQ(Read(Tier::kDay, kT0), day);

  // Another writer still writing the open day appends after the base, and
  // its lines count once.
  RedisClient other_client(redis_.endpoint());
  StandaloneFlush other_protocol(&other_client, keys_);
  BlockSink other(&other_client, &other_protocol, keys_, SinkOptions{}, &clock_);
  ASSERT_TRUE(other.Flush(Batch("o1", kT0 + 50, 2)).ok());
  EXPECT_EQ(Llen(Tier::kDay, kT0, BlockKind::kAll), 2);
  EXPECT_EQ(Read(Tier::kDay, kT0).at({SeriesKind::kAll, ""}).counters.requests, 3u + 4 + 1 + 2);
  EXPECT_EQ(Read(Tier::kMinute, kT0).at({SeriesKind::kAll, ""}).counters.requests, 3u + 4 + 2);
}

}  // namespace
}  // namespace apimeter

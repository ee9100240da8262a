// The storage-v2 write path against a real redis-server: keys, expiry and
// schema marker as written; the name registry; checkpoints, retries and
// error replies; compaction's compare-and-swap; damaged blocks.
#include "sink/block_sink.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "sink/block_reader.h"
#include "sink/flush_blocks.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/fault_injecting_redis.h"
#include "tests/sink/lossy_redis.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::Normalize;
using testing::FaultInjectingRedis;
using testing::LossyRedis;
using testing::TestRedis;

// Redis expires keys by its own clock, so data is recent: kT0 is a minute
// ten minutes before the real time, and the sink's clock says "now".
const int64_t kT0 = (SystemClock().NowSeconds() / 60) * 60 - 600;
const int64_t kNow = kT0 + 600;

Rollup MakeRollup(std::initializer_list<std::pair<int, int64_t>> status_latency) {
  Rollup r;
  for (auto [status, latency] : status_latency) r.AddRequest(status, 10, 100, latency);
  return r;
}

SeriesDelta Delta(Tier tier, int64_t t, SeriesKind kind, std::string name, Rollup r) {
  SeriesDelta d;
  d.tier = tier;
  d.bucket = sink_internal::FloorDiv(t, TierSeconds(tier));
  d.kind = kind;
  d.name = std::move(name);
  d.rollup = std::move(r);
  return d;
}

int64_t Bucket(Tier tier, int64_t t) { return sink_internal::FloorDiv(t, TierSeconds(tier)); }

class BlockSinkTest : public ::testing::Test {
 protected:
  BlockSinkTest()
      : redis_(TestRedis::Private()),
        keys_(redis_.UniquePrefix("v2")),
        client_(redis_.endpoint()),
        reader_(redis_.endpoint()),
        clock_(kNow * kMicrosPerSecond) {}

  RedisReply Run(const RedisArgs& args) {
    auto r = reader_.Command(args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RedisReply{};
  }

  BucketSeries Read(Tier tier, int64_t t) {
    auto r = ReadBucketSeries(reader_, keys_, tier, Bucket(tier, t));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BucketSeries{};
  }

  // One minute of host web1: all, host, endpoint, customer in every tier,
  // the pair in the day tier.
  FlushBatch Batch(const std::string& id, const Rollup& r, const std::string& ep = "GET /a",
                   const std::string& customer = "acme") {
    FlushBatch b;
    b.id = id;
    b.host = "web1";
    for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      b.series.push_back(Delta(tier, kT0, SeriesKind::kAll, "", r));
      b.series.push_back(Delta(tier, kT0, SeriesKind::kHost, "web1", r));
      b.series.push_back(Delta(tier, kT0, SeriesKind::kEndpoint, ep, r));
      b.series.push_back(Delta(tier, kT0, SeriesKind::kCustomer, customer, r));
    }
    b.series.push_back(
        Delta(Tier::kDay, kT0, SeriesKind::kCustomerEndpoint, customer + kNameSeparator + ep, r));
    return b;
  }

  TestRedis& redis_;
  BlockKeys keys_;
  RedisClient client_;
  RedisClient reader_;
  ManualClock clock_;
};

TEST_F(BlockSinkTest, WritesOneBlockPerGroupWithItsExpiryAndReadsBack) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  const Rollup r = MakeRollup({{200, 1500}, {200, 2500}, {404, -1}});
  FlushBatch b = Batch("b1", r);
  b.checkpoints.push_back({"f1", "", "100"});
  b.slow.push_back({kT0 * kMicrosPerSecond + 5, 2500, 200, "web1", "GET /a", "acme"});
  ASSERT_TRUE(sink.Flush(b).ok());

  EXPECT_EQ(Run({"GET", keys_.SchemaKey()}).str, "2");
  EXPECT_EQ(Run({"GET", keys_.CheckpointKey("web1", "f1")}).str, "100");
  EXPECT_EQ(Run({"EXISTS", keys_.TokenKey("b1")}).integer, 1);
  const SinkOptions o;
  for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    const int64_t bucket = Bucket(tier, kT0);
    const int64_t expire = (bucket + 1) * TierSeconds(tier) + RetentionSeconds(tier, o);
    std::vector<BlockGroup> groups{
        {BlockKind::kAll, tier, bucket, 0},
        {BlockKind::kEndpoint, tier, bucket, BlockKeys::ShardOfName(tier, "GET /a")},
        {BlockKind::kCustomer, tier, bucket, BlockKeys::ShardOfName(tier, "acme")}};
    if (tier == Tier::kDay) {
      groups.push_back({BlockKind::kCustomerEndpoint, tier, bucket,
                        BlockKeys::ShardOfName(tier, "acme")});
    }
    for (const BlockGroup& g : groups) {
      SCOPED_TRACE(keys_.ListKey(g));
      EXPECT_EQ(Run({"LLEN", keys_.ListKey(g)}).integer, 1);
      EXPECT_EQ(Run({"EXPIRETIME", keys_.ListKey(g)}).integer, expire);
    }
    const BucketSeries got = Read(tier, kT0);
    EXPECT_EQ(got.size(), tier == Tier::kDay ? 5u : 4u);
    for (const auto& [name, rollup] : got) {
      SCOPED_TRACE(name.name);
      EXPECT_EQ(Normalize(rollup), Normalize(r));
    }
    EXPECT_EQ(got.count({SeriesKind::kHost, "web1"}), 1u);
    EXPECT_EQ(got.count({SeriesKind::kEndpoint, "GET /a"}), 1u);
  }
  // 4 kinds in the day tier, 3 in hour and minute: one block each.
  EXPECT_EQ(sink.stats().blocks, 10u);
  EXPECT_EQ(Run({"ZCARD", keys_.SlowKey(kT0 / kSecondsPerDay)}).integer, 1);

  const int64_t day_end = (kT0 / kSecondsPerDay + 1) * kSecondsPerDay;
  EXPECT_EQ(Run({"EXPIRETIME", keys_.RegistryKey(kT0 / kSecondsPerDay, NameKind::kHost)}).integer,
            day_end + o.day_retention_s);
  EXPECT_EQ(Run({"EXPIRETIME", keys_.RegistryCounterKey(kT0 / kSecondsPerDay)}).integer,
            day_end + o.day_retention_s);
  auto hosts = ReadNameDictionary(reader_, keys_, kT0 / kSecondsPerDay, NameKind::kHost);
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, (std::vector<std::string>{"other", "web1"}));
  auto customers = ReadNameDictionary(reader_, keys_, kT0 / kSecondsPerDay, NameKind::kCustomer);
  ASSERT_TRUE(customers.ok());
  EXPECT_EQ(*customers, (std::vector<std::string>{"other", "anonymous", "acme"}));
}

TEST_F(BlockSinkTest, DataPastATiersRetentionIsNotWrittenToThatTier) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  const int64_t old = kT0 - 3 * kSecondsPerDay;  // past the minute tier's 48 h
  const Rollup r = MakeRollup({{200, 10}});
  FlushBatch b;
  b.id = "old";
  b.host = "web1";
  for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    b.series.push_back(Delta(tier, old, SeriesKind::kAll, "", r));
  }
  ASSERT_TRUE(sink.Flush(b).ok());
  EXPECT_EQ(sink.stats().dropped_expired_deltas, 1u);
  EXPECT_EQ(Run({"EXISTS", keys_.ListKey({BlockKind::kAll, Tier::kMinute, Bucket(Tier::kMinute, old), 0})})
                .integer,
            0);
  EXPECT_EQ(Read(Tier::kHour, old).size(), 1u);
  EXPECT_EQ(Read(Tier::kDay, old).size(), 1u);
}

TEST_F(BlockSinkTest, RegistryNumbersNamesInSortedOrderAndRefusesBeyondTheLimit) {
  StandaloneFlush protocol(&client_, keys_);
  SinkOptions small;
  small.endpoints_per_day = 2;
  BlockSink sink(&client_, &protocol, keys_, small, &clock_);
  const Rollup r = MakeRollup({{200, 10}});
  FlushBatch b;
  b.id = "names";
  b.host = "web1";
  for (const char* ep : {"c", "b", "a", "other"}) {
    b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kEndpoint, ep, r));
  }
  ASSERT_TRUE(sink.Flush(b).ok());
  const int64_t day = kT0 / kSecondsPerDay;
  auto dict = ReadNameDictionary(reader_, keys_, day, NameKind::kEndpoint);
  ASSERT_TRUE(dict.ok());
  EXPECT_EQ(*dict, (std::vector<std::string>{"other", "a", "b"}));
  EXPECT_EQ(sink.registry_stats().refused, 1u);
  BucketSeries got = Read(Tier::kMinute, kT0);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[(SeriesName{SeriesKind::kEndpoint, "other"})].requests, 2u);  // c + other

  // A writer with room admits "c"; from then on the small writer uses its id
  // too (once in, always in), and counts it under "c".
  NameRegistry roomy(&client_, keys_, {10, 10, 86400});
  NameIds ids;
  ids[{day, NameKind::kEndpoint}]["c"] = 0;
  ASSERT_TRUE(roomy.Assign(&ids).ok());
  EXPECT_EQ((ids[{day, NameKind::kEndpoint}]["c"]), 3u);
  FlushBatch again;
  again.id = "names2";
  again.host = "web1";
  again.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kEndpoint, "c", r));
  ASSERT_TRUE(sink.Flush(again).ok());
  got = Read(Tier::kMinute, kT0);
  EXPECT_EQ(got[(SeriesName{SeriesKind::kEndpoint, "c"})].requests, 1u);
  EXPECT_EQ(got[(SeriesName{SeriesKind::kEndpoint, "other"})].requests, 2u);
}

TEST_F(BlockSinkTest, RegistryAsksAtMostFiveHundredNamesPerCallAndCachesAdmittedOnes) {
  NameRegistry registry(&client_, keys_, {2000, 2000, 86400});
  const int64_t day = kT0 / kSecondsPerDay;
  NameIds ids;
  for (int i = 0; i < 1200; ++i) ids[{day, NameKind::kCustomer}]["c" + std::to_string(i)] = 0;
  ids[{day, NameKind::kCustomer}]["anonymous"] = 7;
  ASSERT_TRUE(registry.Assign(&ids).ok());
  EXPECT_EQ(registry.stats().calls, 3u);
  EXPECT_EQ((ids[{day, NameKind::kCustomer}]["anonymous"]), kAnonymousId);
  std::set<uint32_t> seen;
  for (const auto& [name, id] : ids[{day, NameKind::kCustomer}]) seen.insert(id);
  EXPECT_EQ(seen.size(), 1201u);
  EXPECT_EQ(*seen.rbegin(), 1201u);  // customers are numbered from 2
  ASSERT_TRUE(registry.Assign(&ids).ok());
  EXPECT_EQ(registry.stats().calls, 3u) << "known names must not be asked again";
}

TEST_F(BlockSinkTest, ACheckpointThatMovedAbortsWithNothingWritten) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  Run({"SET", keys_.CheckpointKey("web1", "f1"), "50"});
  FlushBatch b = Batch("b1", MakeRollup({{200, 10}}));
  b.checkpoints.push_back({"f1", "40", "100"});
  const Status st = sink.Flush(b);
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
  EXPECT_TRUE(Read(Tier::kMinute, kT0).empty());
  EXPECT_EQ(Run({"GET", keys_.CheckpointKey("web1", "f1")}).str, "50");
}

TEST_F(BlockSinkTest, AFlushRetriedAfterAnUnknownOutcomeCountsOnce) {
  for (LossyRedis::Loss loss : {LossyRedis::Loss::kAfterRun, LossyRedis::Loss::kBeforeSend}) {
    // Round trips: registry, check, transaction; lose each in turn.
    for (int trip = 0; trip < 3; ++trip) {
      SCOPED_TRACE(std::to_string(trip) + (loss == LossyRedis::Loss::kAfterRun ? " after" : " before"));
      BlockKeys keys(redis_.UniquePrefix("v2retry"));
      LossyRedis lossy(redis_.endpoint());
      StandaloneFlush protocol(&lossy, keys);
      BlockSink sink(&lossy, &protocol, keys, SinkOptions{}, &clock_);
      // The schema check happens on the first flush only: do it first.
      ASSERT_TRUE(sink.Flush(FlushBatch{.id = "warm", .host = "web1"}).ok());
      FlushBatch b = Batch("b1", MakeRollup({{200, 10}, {500, 20}}));
      b.checkpoints.push_back({"f1", "", "100"});
      lossy.Arm(trip, loss);
      const Status first = sink.Flush(b);
      ASSERT_TRUE(lossy.fired());
      EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.ToString();
      ASSERT_TRUE(sink.Flush(b).ok());
      ASSERT_TRUE(sink.Flush(b).ok());  // and once more, for good measure
      auto got = ReadBucketSeries(reader_, keys, Tier::kMinute, Bucket(Tier::kMinute, kT0));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->at({SeriesKind::kAll, ""}).requests, 2u);
      EXPECT_EQ(Run({"GET", keys.CheckpointKey("web1", "f1")}).str, "100");
      EXPECT_GE(sink.stats().already_applied, 1u);
    }
  }
}

// An EVAL with at least one key (the registry script).
bool IsEval(const RedisArgs& a) { return a[0] == "EVAL" && a.size() > 3 && a[2] != "0"; }

TEST_F(BlockSinkTest, AnErrorReplyAnywhereFailsTheFlushWithItsReason) {
  struct Case {
    const char* what;
    FaultInjectingRedis::Match match;
    FaultInjectingRedis::Where where;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"registry script", [](const RedisArgs& a) { return IsEval(a) && a[3].find("{reg") != std::string::npos; },
       FaultInjectingRedis::Where::kReply, "name registry"},
      {"append inside EXEC", [](const RedisArgs& a) { return a[0] == "RPUSH"; },
       FaultInjectingRedis::Where::kInExec, "failed inside EXEC"},
      {"expiry inside EXEC", [](const RedisArgs& a) { return a[0] == "EXPIREAT"; },
       FaultInjectingRedis::Where::kInExec, "failed inside EXEC"},
      {"append while queuing", [](const RedisArgs& a) { return a[0] == "RPUSH"; },
       FaultInjectingRedis::Where::kReply, "refused the transaction"},
      {"token SET inside EXEC",
       [](const RedisArgs& a) { return a[0] == "SET" && a[1].find(":flush:") != std::string::npos; },
       FaultInjectingRedis::Where::kInExec, "failed inside EXEC"},
      {"MGET of the checkpoints", [](const RedisArgs& a) { return a[0] == "MGET"; },
       FaultInjectingRedis::Where::kReply, "checkpoint check failed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    BlockKeys keys(redis_.UniquePrefix("v2err"));
    RedisClient real(redis_.endpoint());
    FaultInjectingRedis faulty(&real);
    StandaloneFlush protocol(&faulty, keys);
    BlockSink sink(&faulty, &protocol, keys, SinkOptions{}, &clock_);
    faulty.Fail(c.match, c.where, "ERR injected");
    FlushBatch b = Batch("b1", MakeRollup({{200, 10}}));
    b.checkpoints.push_back({"f1", "", "100"});
    const Status st = sink.Flush(b);
    EXPECT_TRUE(faulty.AllFired());
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("ERR injected"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.ToString();
    EXPECT_EQ(sink.stats().failures, 1u);
  }
}

TEST_F(BlockSinkTest, RefusesARedisHoldingV1DataOrAnotherSchema) {
  StandaloneFlush protocol(&client_, keys_);
  {
    BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
    // A v1 registry (a set) of a retained day.
    Run({"SADD", keys_.RegistryKey(kT0 / kSecondsPerDay - 3, NameKind::kCustomer), "acme"});
    const Status st = sink.Flush(Batch("b1", MakeRollup({{200, 10}})));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("apimeter migrate"), std::string::npos) << st.ToString();
    EXPECT_EQ(Run({"EXISTS", keys_.SchemaKey()}).integer, 0);
  }
  {
    BlockKeys other(redis_.UniquePrefix("v2schema"));
    StandaloneFlush p(&client_, other);
    BlockSink sink(&client_, &p, other, SinkOptions{}, &clock_);
    Run({"SET", other.SchemaKey(), "3"});
    const Status st = sink.Flush(Batch("b1", MakeRollup({{200, 10}})));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("schema '3'"), std::string::npos) << st.ToString();
  }
}

TEST_F(BlockSinkTest, ABatchWithoutAnIdIsRefused) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  EXPECT_EQ(sink.Flush(Batch("", MakeRollup({{200, 10}}))).code(), StatusCode::kInvalidArgument);
}

TEST_F(BlockSinkTest, LongListsAreCompactedIntoOneBaseWithTheSameSum) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  Rollup total;
  for (int i = 0; i < BlockSink::kCompactAtLength; ++i) {
    const Rollup r = MakeRollup({{200, 10 + i}, {i % 2 ? 404 : 200, -1}});
    total.Merge(r);
    ASSERT_TRUE(sink.Flush(Batch("b" + std::to_string(i), r)).ok());
  }
  // Every group reached kCompactAtLength blocks.
  EXPECT_EQ(sink.pending_compactions(), 10u);
  ASSERT_TRUE(sink.CompactPending().ok());
  EXPECT_EQ(sink.pending_compactions(), 0u);
  EXPECT_EQ(sink.compactor_stats().compacted, 10u);
  const BlockGroup all{BlockKind::kAll, Tier::kMinute, Bucket(Tier::kMinute, kT0), 0};
  EXPECT_EQ(Run({"LLEN", keys_.ListKey(all)}).integer, 1);
  EXPECT_EQ(Run({"HGET", keys_.MetaKey(all), "ga"}).str, "1");
  EXPECT_EQ(Run({"EXPIRETIME", keys_.MetaKey(all)}).integer,
            Run({"EXPIRETIME", keys_.ListKey(all)}).integer);
  for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    for (const auto& [name, rollup] : Read(tier, kT0)) EXPECT_EQ(Normalize(rollup), Normalize(total));
  }
  // A flush after compaction appends a delta after the base.
  ASSERT_TRUE(sink.Flush(Batch("late", MakeRollup({{200, 5}}))).ok());
  EXPECT_EQ(Run({"LLEN", keys_.ListKey(all)}).integer, 2);
  EXPECT_EQ(Read(Tier::kMinute, kT0).at({SeriesKind::kAll, ""}).requests, total.requests + 1);
}

TEST_F(BlockSinkTest, ACompactionThatLostTheRaceChangesNothing) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sink.Flush(Batch("b" + std::to_string(i), MakeRollup({{200, 10}}))).ok());
  }
  const BlockGroup all{BlockKind::kAll, Tier::kMinute, Bucket(Tier::kMinute, kT0), 0};
  BlockCompactor a(&client_, keys_, SinkOptions{}), b(&client_, keys_, SinkOptions{});
  auto pa = a.Prepare({&all, 1});
  ASSERT_TRUE(pa.ok() && (*pa)[0].has_value());
  ASSERT_TRUE(sink.Flush(Batch("b3", MakeRollup({{200, 10}}))).ok());
  auto pb = b.Prepare({&all, 1});
  ASSERT_TRUE(pb.ok() && (*pb)[0].has_value());
  auto cb = b.Commit({&*(*pb)[0], 1});
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ((*cb)[0], CompactionOutcome::kCompacted);
  auto ca = a.Commit({&*(*pa)[0], 1});
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ((*ca)[0], CompactionOutcome::kLostRace);
  EXPECT_EQ(Read(Tier::kMinute, kT0).at({SeriesKind::kAll, ""}).requests, 4u);

  // A group deleted and written again from generation 0: the header check
  // stops a compaction prepared before the deletion (the generation alone
  // cannot: it is 0 both times). The hour group was never compacted.
  const BlockGroup hour{BlockKind::kAll, Tier::kHour, Bucket(Tier::kHour, kT0), 0};
  auto pc = a.Prepare({&hour, 1});
  ASSERT_TRUE(pc.ok() && (*pc)[0].has_value());
  ASSERT_EQ((*pc)[0]->count, 4u);
  Run({"DEL", keys_.ListKey(hour), keys_.MetaKey(hour)});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sink.Flush(Batch("again" + std::to_string(i), MakeRollup({{201, 10}}))).ok());
  }
  auto cc = a.Commit({&*(*pc)[0], 1});
  ASSERT_TRUE(cc.ok());
  EXPECT_EQ((*cc)[0], CompactionOutcome::kLostRace);
  const Rollup hour_all = Read(Tier::kHour, kT0).at({SeriesKind::kAll, ""});
  EXPECT_EQ(hour_all.requests, 5u);
  EXPECT_EQ(hour_all.StatusCount(201), 5u);
}

TEST_F(BlockSinkTest, ADamagedBlockIsAnErrorNamingItsKeyAndIsNotCompactedAway) {
  StandaloneFlush protocol(&client_, keys_);
  BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
  ASSERT_TRUE(sink.Flush(Batch("b1", MakeRollup({{200, 10}}))).ok());
  const BlockGroup all{BlockKind::kAll, Tier::kMinute, Bucket(Tier::kMinute, kT0), 0};
  std::string block = Run({"LINDEX", keys_.ListKey(all), "0"}).str;
  block[block.size() - 1] ^= 0x5a;
  Run({"RPUSH", keys_.ListKey(all), block});
  auto got = ReadBucketSeries(reader_, keys_, Tier::kMinute, Bucket(Tier::kMinute, kT0));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find(keys_.ListKey(all) + " element 1"), std::string::npos)
      << got.status().ToString();
  BlockCompactor compactor(&client_, keys_, SinkOptions{});
  auto done = compactor.Compact({&all, 1});
  EXPECT_FALSE(done.ok());
  EXPECT_EQ(Run({"LLEN", keys_.ListKey(all)}).integer, 2);
}

// Issue 18 part 2: the client kinds u, v and w (day tier) go to their own
// groups under registry kind u, read back by name, are capped per day by
// clients_per_day ("other"), and compact like the other kinds.
TEST_F(BlockSinkTest, ClientKindsRoundTripCapAndCompact) {
  StandaloneFlush protocol(&client_, keys_);
  SinkOptions o;
  o.clients_per_day = 2;
  BlockSink sink(&client_, &protocol, keys_, o, &clock_);
  const std::string sep(1, kNameSeparator);
  auto batch = [&](const std::string& id, const Rollup& r) {
    FlushBatch b;
    b.id = id;
    b.host = "web1";
    for (const std::string client : {"acme-python/2.3", "curl/8", "okhttp/4.12"}) {
      b.series.push_back(Delta(Tier::kDay, kT0, SeriesKind::kClient, client, r));
      b.series.push_back(
          Delta(Tier::kDay, kT0, SeriesKind::kClientEndpoint, client + sep + "GET /a", r));
      b.series.push_back(
          Delta(Tier::kDay, kT0, SeriesKind::kCustomerClient, "acme" + sep + client, r));
    }
    return b;
  };
  Rollup total;
  for (int i = 0; i < BlockSink::kCompactAtLength; ++i) {
    const Rollup r = MakeRollup({{200, 10 + i}, {i % 2 ? 404 : 500, -1}});
    total.Merge(r);
    ASSERT_TRUE(sink.Flush(batch("c" + std::to_string(i), r)).ok());
  }
  const int64_t day = Bucket(Tier::kDay, kT0);
  // The first two names (sorted) were admitted; okhttp is "other".
  EXPECT_EQ(Run({"HGET", keys_.RegistryKey(day, NameKind::kClient), "acme-python/2.3"}).str, "1");
  EXPECT_EQ(Run({"HGET", keys_.RegistryKey(day, NameKind::kClient), "curl/8"}).str, "2");
  EXPECT_EQ(Run({"HEXISTS", keys_.RegistryKey(day, NameKind::kClient), "okhttp/4.12"}).integer, 0);
  const BlockGroup u{BlockKind::kClient, Tier::kDay, day,
                     BlockKeys::ShardOfName(Tier::kDay, "curl/8")};
  const BlockGroup v{BlockKind::kClientEndpoint, Tier::kDay, day,
                     BlockKeys::ShardOfName(Tier::kDay, "curl/8")};
  const BlockGroup w{BlockKind::kCustomerClient, Tier::kDay, day,
                     BlockKeys::ShardOfName(Tier::kDay, "acme")};
  for (const BlockGroup& g : {u, v, w}) {
    EXPECT_EQ(Run({"LLEN", keys_.ListKey(g)}).integer, BlockSink::kCompactAtLength);
  }
  auto check = [&] {
    const BucketSeries got = Read(Tier::kDay, kT0);
    ASSERT_EQ(got.size(), 9u);
    for (const std::string client : {"acme-python/2.3", "curl/8"}) {
      SCOPED_TRACE(client);
      EXPECT_EQ(Normalize(got.at({SeriesKind::kClient, client})), Normalize(total));
      EXPECT_EQ(Normalize(got.at({SeriesKind::kClientEndpoint, client + sep + "GET /a"})),
                Normalize(total));
      EXPECT_EQ(Normalize(got.at({SeriesKind::kCustomerClient, "acme" + sep + client})),
                Normalize(total));
    }
    EXPECT_EQ(got.at({SeriesKind::kClient, "other"}).requests, total.requests);
  };
  check();
  ASSERT_TRUE(sink.CompactPending().ok());
  EXPECT_GE(sink.compactor_stats().compacted, 3u);
  for (const BlockGroup& g : {u, v, w}) EXPECT_EQ(Run({"LLEN", keys_.ListKey(g)}).integer, 1);
  EXPECT_EQ(Run({"HGET", keys_.MetaKey(u), "gu"}).str, "1");
  check();
}

}  // namespace
}  // namespace apimeter

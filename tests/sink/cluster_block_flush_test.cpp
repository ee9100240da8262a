// Storage v2 on a real Redis Cluster (tests/support/test_cluster.h, 3
// masters): ClusterBlockFlush under BlockSink, read back with
// ReadBucketSeries through the ClusterClient and compared exactly with the
// sums of the lines. A realistic live flush; a retry after an unknown
// outcome; a flush stopped between its commit point and its apply (one
// master paused) whose process then dies, finished by the next process;
// one huge flush against many small ones; compaction's compare-and-swap;
// a group read atomically through a slot migration (ASK, then MOVED);
// scripts missing on the nodes (NOSCRIPT); StandaloneFlush refused.
#include "sink/cluster_block_flush.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "sink/block_compactor.h"
#include "sink/block_reader.h"
#include "sink/block_sink.h"
#include "sink/crc16.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/cluster_test_util.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::AddToModel;
using block_test::BatchOf;
using block_test::Cluster;
using block_test::MasterOfSlot;
using block_test::Model;
using block_test::Normalize;
using block_test::QuickOptions;
using sink_internal::FloorDiv;
using testing::TestRedis;
using testing::Traffic;

// The sanitizer build is about 10x slower: the big tests use a quarter of
// the lines there (the same shapes: 5,000 Zipf customers, 60 small flushes).
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kScale = 4;
#else
constexpr size_t kScale = 1;
#endif

// One writing process: its cluster connection, protocol and sink.
struct Writer {
  explicit Writer(const BlockKeys& keys, ClusterOptions options = Cluster().Options())
      : client(std::move(options)),
        protocol(&client, keys),
        sink(&client, &protocol, keys, SinkOptions{}, &clock) {}
  SystemClock clock;
  ClusterClient client;
  ClusterBlockFlush protocol;
  BlockSink sink;
};

class ClusterBlockFlushTest : public ::testing::Test {
 protected:
  ClusterBlockFlushTest() : reader_(Cluster().Options()) {}

  // Every bucket of the model read back through the cluster equals it.
  void ExpectStored(const BlockKeys& keys, const Model& model) {
    block_test::ExpectStored(reader_, keys, model);
  }

  ClusterClient reader_;
};

// A live agent at 20K lines/s flushing every 2 s, 5,000 Zipf customers.
TEST_F(ClusterBlockFlushTest, RealisticFlushesAreStoredExactly) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const size_t per_flush = 40000 / kScale;
  const Traffic t = Traffic::Make(11, 2 * per_flush, start, start + 4, 200, 5000);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-live"));
  Writer w(keys);
  Model model;
  for (size_t first = 0, n = 0; first < t.lines.size(); first += per_flush, ++n) {
    FlushBatch b = BatchOf(t, first, first + per_flush, "live" + std::to_string(n));
    b.checkpoints.push_back(
        {"log", first == 0 ? "" : std::to_string(first), std::to_string(first + per_flush)});
    const Status st = w.sink.Flush(b);
    ASSERT_TRUE(st.ok()) << st.ToString();
    AddToModel(t, first, first + per_flush, "web1", &model);
  }
  ExpectStored(keys, model);
  EXPECT_EQ(w.sink.stats().already_applied, 0u);
  EXPECT_EQ(w.protocol.stats().tags_already_applied, 0u);
  // The checkpoint moved into the host's slot, with the commit point.
  auto ckpt = reader_.Command({"GET", w.protocol.CheckpointKey("web1", "log")});
  ASSERT_TRUE(ckpt.ok());
  EXPECT_EQ(ckpt->str, std::to_string(2 * per_flush));
  // A stale checkpoint is refused, nothing written.
  FlushBatch stale = BatchOf(t, 0, 100, "stale");
  stale.checkpoints.push_back({"log", std::to_string(per_flush), std::to_string(per_flush + 100)});
  EXPECT_EQ(w.sink.Flush(stale).code(), StatusCode::kAborted);
  ExpectStored(keys, model);
}

// A master that lost every script (restart, SCRIPT FLUSH) answers NOSCRIPT:
// the call goes again as EVAL, outside MULTI.
TEST_F(ClusterBlockFlushTest, ScriptsMissingOnTheNodesAreSentWhole) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(3, 4000, start, start + 120, 50, 300);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-noscript"));
  Writer w(keys);
  Model model;
  ASSERT_TRUE(w.sink.Flush(BatchOf(t, 0, 2000, "a")).ok());
  AddToModel(t, 0, 2000, "web1", &model);
  for (const std::string& m : w.client.Masters()) {
    RedisClient node(Cluster().NodeEndpoint(m));
    ASSERT_FALSE(node.Command({"SCRIPT", "FLUSH"})->is_error());
  }
  const uint64_t whole = w.protocol.stats().scripts_sent_whole;
  const Status st = w.sink.Flush(BatchOf(t, 2000, 4000, "b"));
  ASSERT_TRUE(st.ok()) << st.ToString();
  AddToModel(t, 2000, 4000, "web1", &model);
  EXPECT_GT(w.protocol.stats().scripts_sent_whole, whole);
  ExpectStored(keys, model);
}

// The master holding the host's slot stops taking writes while the commit
// point is sent: the flush cannot know whether it committed. After the
// pause the retry of the same batch stores it exactly once.
TEST_F(ClusterBlockFlushTest, FlushWithUnknownOutcomeIsRetriedExactlyOnce) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(5, 6000, start, start + 180, 80, 500);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-unknown"));
  Writer w(keys, QuickOptions());
  Model model;
  ASSERT_TRUE(w.sink.Flush(BatchOf(t, 0, 3000, "first")).ok());  // schema, names
  AddToModel(t, 0, 3000, "web1", &model);

  FlushBatch b = BatchOf(t, 3000, 6000, "second");
  b.checkpoints.push_back({"log", "", "6000"});
  const std::string host_node =
      MasterOfSlot(w.client, HashSlot(KeySchema(keys.prefix()).HostTag("web1")));
  testing::PausedWrites pause(Cluster(), host_node);
  ASSERT_TRUE(pause.ok());
  Status st = w.sink.Flush(b);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  ASSERT_TRUE(pause.Unpause());
  for (int attempt = 0; attempt < 3 && !st.ok(); ++attempt) st = w.sink.Flush(b);
  ASSERT_TRUE(st.ok()) << st.ToString();
  AddToModel(t, 3000, 6000, "web1", &model);
  ExpectStored(keys, model);
  // Once more: the token shows the commit, nothing is written again.
  ASSERT_TRUE(w.sink.Flush(b).ok());
  EXPECT_GE(w.sink.stats().already_applied, 1u);
  ExpectStored(keys, model);
}

// The commit point commits, then a master that holds some of the batch's
// tags stops taking writes: the apply fails, and the process dies with the
// batch journaled. The next process of that host finishes the journal
// before its own batch; the dead process's retry (same token) and a
// compaction write nothing twice.
TEST_F(ClusterBlockFlushTest, CrashBetweenCommitPointAndApplyIsFinishedByTheNextProcess) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(9, 9000, start, start + 300, 80, 800);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-crash"));
  Model model;
  auto first = std::make_unique<Writer>(keys, QuickOptions());
  ASSERT_TRUE(first->sink.Flush(BatchOf(t, 0, 3000, "warm")).ok());  // schema, names
  AddToModel(t, 0, 3000, "web1", &model);
  FlushBatch a = BatchOf(t, 3000, 6000, "batch-a");
  a.checkpoints.push_back({"log", "", "6000"});

  // Pause a master that holds neither the host's slot nor the day's registry.
  const std::string host_node =
      MasterOfSlot(first->client, HashSlot(KeySchema(keys.prefix()).HostTag("web1")));
  const int64_t day = FloorDiv(start, kSecondsPerDay);
  const std::string registry_node =
      MasterOfSlot(first->client, HashSlot(keys.RegistryKey(day, NameKind::kEndpoint)));
  std::string paused;
  for (const std::string& m : first->client.Masters()) {
    if (m != host_node && m != registry_node) paused = m;
  }
  if (paused.empty()) GTEST_SKIP() << "APIMETER_TEST_SKIPPED: host and registry share no master";
  testing::PausedWrites pause(Cluster(), paused);
  ASSERT_TRUE(pause.ok());
  Status st = first->sink.Flush(a);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("committed, applying it"), std::string::npos) << st.ToString();
  first.reset();  // the process dies with batch a journaled
  ASSERT_TRUE(pause.Unpause());
  AddToModel(t, 3000, 6000, "web1", &model);

  // The next process of web1 reads its checkpoint: batch a is finished
  // then, before any flush of its own (a backfill that finds every line
  // counted flushes nothing, and must leave nothing journaled: CI found
  // 36,653 of 59,890 lines missing that way).
  Writer second(keys);
  auto ckpt = second.sink.ReadCheckpoint("web1", "log");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_EQ(*ckpt, "6000");  // the commit point holds the checkpoint
  EXPECT_EQ(second.protocol.stats().journals_recovered, 1u);
  EXPECT_GT(second.protocol.stats().tags_already_applied, 0u);  // what a applied itself
  ExpectStored(keys, model);
  FlushBatch b = BatchOf(t, 6000, 9000, "batch-b");
  b.checkpoints.push_back({"log", "6000", "9000"});
  st = second.sink.Flush(b);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(second.protocol.stats().journals_recovered, 1u);  // not twice
  AddToModel(t, 6000, 9000, "web1", &model);
  ExpectStored(keys, model);

  // The dead process's batch retried by a third one: already applied.
  Writer third(keys);
  ASSERT_TRUE(third.sink.Flush(a).ok());
  EXPECT_EQ(third.sink.stats().already_applied, 1u);
  ExpectStored(keys, model);
}

// The same realistic traffic as one huge flush and as 60 small ones.
TEST_F(ClusterBlockFlushTest, OneHugeFlushAndManySmallOnesStoreTheSameSums) {
  const int64_t now = SystemClock().NowSeconds();
  const Traffic t = Traffic::Make(7, 60000 / kScale, now - 3 * 3600, now - 300, 100, 2000);
  const BlockKeys huge_keys(TestRedis::Get().UniquePrefix("v2c-huge"));
  const BlockKeys small_keys(TestRedis::Get().UniquePrefix("v2c-small"));
  Writer huge(huge_keys), small(small_keys);
  Model model;
  AddToModel(t, 0, t.lines.size(), "web1", &model);
  Status st = huge.sink.Flush(BatchOf(t, 0, t.lines.size(), "huge"));
  ASSERT_TRUE(st.ok()) << st.ToString();
  const size_t small_flush = t.lines.size() / 60;
  for (size_t first = 0, n = 0; first < t.lines.size(); first += small_flush, ++n) {
    st = small.sink.Flush(
        BatchOf(t, first, std::min(t.lines.size(), first + small_flush), "small" + std::to_string(n)));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ExpectStored(huge_keys, model);
  ExpectStored(small_keys, model);
  // 60 flushes into the same hour and day groups: their lists passed
  // kCompactAtLength, so the sink has groups to compact; compacting them
  // (one script per group, its keys in one slot) changes no sum.
  EXPECT_GT(small.sink.pending_compactions(), 0u);
  st = small.sink.CompactPending();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT(small.sink.compactor_stats().compacted, 0u);
  EXPECT_EQ(small.sink.pending_compactions(), 0u);
  ExpectStored(small_keys, model);
}

// Two compactors race on one group: the second commit finds the generation
// moved and does nothing; a flush in between is kept.
TEST_F(ClusterBlockFlushTest, CompactionCompareAndSwapWorksPerSlot) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(13, 5000, start, start + 50, 30, 200);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-compact"));
  Writer w(keys);
  Model model;
  for (size_t first = 0, n = 0; first < 4000; first += 1000, ++n) {
    ASSERT_TRUE(w.sink.Flush(BatchOf(t, first, first + 1000, "c" + std::to_string(n))).ok());
  }
  AddToModel(t, 0, 4000, "web1", &model);
  const int64_t bucket = FloorDiv(start, 3600);
  std::vector<BlockGroup> groups{{BlockKind::kAll, Tier::kHour, bucket, 0}};
  for (uint16_t s = 0; s < BlockShards(Tier::kHour); ++s) {
    groups.push_back({BlockKind::kCustomer, Tier::kHour, bucket, s});
  }
  ClusterClient other_client(Cluster().Options());
  BlockCompactor one(&w.client, keys, SinkOptions{}), two(&other_client, keys, SinkOptions{});
  auto p1 = one.Prepare(groups);
  auto p2 = two.Prepare(groups);
  ASSERT_TRUE(p1.ok() && p2.ok());
  std::vector<PreparedCompaction> w1, w2;
  for (auto& p : *p1) {
    ASSERT_TRUE(p.has_value());
    w1.push_back(std::move(*p));
  }
  for (auto& p : *p2) w2.push_back(std::move(*p));
  // A flush lands between Prepare and Commit: appended at the tail, kept.
  ASSERT_TRUE(w.sink.Flush(BatchOf(t, 4000, 5000, "c-late")).ok());
  AddToModel(t, 4000, 5000, "web1", &model);
  auto c1 = one.Commit(w1);
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  for (CompactionOutcome o : *c1) EXPECT_EQ(o, CompactionOutcome::kCompacted);
  auto c2 = two.Commit(w2);
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  for (CompactionOutcome o : *c2) EXPECT_EQ(o, CompactionOutcome::kLostRace);
  ExpectStored(keys, model);
  auto stored = ReadGroups(reader_, keys, groups);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  for (const StoredGroup& g : *stored) {
    EXPECT_EQ(g.generation, 1u) << g.key;
    EXPECT_EQ(g.blocks.size(), 2u) << g.key;  // the base and the late delta
  }
}

// ReadGroups sends MULTI, HMGET, LRANGE, EXEC per group: the cluster client
// routes the block whole, and during a slot migration follows ASK (ASKING
// before MULTI) and then MOVED, resending the whole block.
TEST_F(ClusterBlockFlushTest, GroupReadsFollowASlotMigration) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(17, 2000, start, start + 30, 20, 100);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-mig"));
  Writer w(keys);
  ASSERT_TRUE(w.sink.Flush(BatchOf(t, 0, 2000, "m")).ok());
  Model model;
  AddToModel(t, 0, 2000, "web1", &model);
  const BlockGroup g{BlockKind::kAll, Tier::kMinute, FloorDiv(start, 60), 0};
  const int slot = HashSlot(keys.ListKey(g));
  ClusterClient c(Cluster().Options());
  ASSERT_TRUE(c.Connect().ok());
  const std::string from = MasterOfSlot(c, slot);
  std::string to;
  for (const std::string& m : c.Masters()) {
    if (m != from) to = m;
  }
  RedisClient src(Cluster().NodeEndpoint(from)), dst(Cluster().NodeEndpoint(to));
  const std::string s = std::to_string(slot);
  ASSERT_FALSE(dst.Command({"CLUSTER", "SETSLOT", s, "IMPORTING", Cluster().NodeId(from)})
                   ->is_error());
  ASSERT_FALSE(src.Command({"CLUSTER", "SETSLOT", s, "MIGRATING", Cluster().NodeId(to)})
                   ->is_error());
  // Move every key of the slot (other tests' prefixes share the tag): the
  // source answers ASK for the group's keys now.
  std::string host;
  int port = 0;
  SplitHostPort(to, &host, &port);
  auto in_slot = src.Command({"CLUSTER", "GETKEYSINSLOT", s, "100000"});
  ASSERT_TRUE(in_slot.ok() && in_slot->type == RedisReply::Type::kArray);
  RedisArgs migrate{"MIGRATE", host, std::to_string(port), "", "0", "5000", "KEYS"};
  for (const RedisReply& k : in_slot->elements) migrate.push_back(k.str);
  ASSERT_GT(migrate.size(), 7u);
  auto mig = src.Command(migrate);
  ASSERT_TRUE(mig.ok());
  ASSERT_FALSE(mig->is_error()) << mig->str;
  auto read = ReadGroups(c, keys, {&g, 1});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ((*read)[0].blocks.size(), 1u);
  EXPECT_GE(c.stats().ask, 1u);
  for (const std::string& m : c.Masters()) {
    RedisClient node(Cluster().NodeEndpoint(m));
    ASSERT_FALSE(
        node.Command({"CLUSTER", "SETSLOT", s, "NODE", Cluster().NodeId(to)})->is_error());
  }
  const uint64_t moved = c.stats().moved;
  read = ReadGroups(c, keys, {&g, 1});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ((*read)[0].blocks.size(), 1u);
  EXPECT_GT(c.stats().moved, moved);
  ExpectStored(keys, model);
}

// The standalone protocol on a cluster writes nothing: its transaction
// spans slots, which the cluster client refuses before sending it.
TEST_F(ClusterBlockFlushTest, StandaloneFlushOnAClusterWritesNothing) {
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(19, 1000, start, start + 30, 20, 100);
  const BlockKeys keys(TestRedis::Get().UniquePrefix("v2c-wrong"));
  ClusterClient client(Cluster().Options());
  StandaloneFlush wrong(&client, keys);
  SystemClock clock;
  BlockSink sink(&client, &wrong, keys, SinkOptions{}, &clock);
  FlushBatch b = BatchOf(t, 0, 1000, "w");
  b.checkpoints.push_back({"log", "", "1000"});
  const Status st = sink.Flush(b);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("one slot"), std::string::npos) << st.ToString();
  auto stored = ReadBucketSeries(reader_, keys, Tier::kMinute, FloorDiv(start, 60));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_TRUE(stored->empty());
  EXPECT_TRUE(reader_.Command({"GET", keys.CheckpointKey("web1", "log")})->is_nil());
}

}  // namespace
}  // namespace apimeter

// ClusterClient and the cluster flush against a real Redis Cluster
// (tests/support/test_cluster.h, 3 masters): routing and order of pipelined
// replies, ASK and MOVED during a hand-made slot migration, the same query
// answers as a single Redis, and exactly-once when a flush stops between the
// commits of two slots (one master paused) and is finished by another writer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <set>

#include "common/time_util.h"
#include "query/query_engine.h"
#include "sink/cluster_client.h"
#include "sink/crc16.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"
#include "tests/query/test_data.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

namespace apimeter {
namespace {

using testing::TestCluster;
using testing::TestRedis;

constexpr int64_t kHour = 3600, kDay = 86400;

TestCluster& Cluster() {
  static TestCluster cluster(3, 0);
  return cluster;
}

std::string MasterOfSlot(ClusterClient& c, int slot) {
  auto node = c.NodeForSlot(slot);
  return node.ok() ? (*node)->endpoint().host + ":" + std::to_string((*node)->endpoint().port)
                   : std::string();
}

TEST(ClusterClient, RoutesPipelinesAndKeepsReplyOrder) {
  ClusterClient c(Cluster().Options());
  ASSERT_TRUE(c.Connect().ok());
  EXPECT_EQ(c.Masters().size(), 3u);
  const std::string p = TestRedis::Get().UniquePrefix("route");
  std::vector<RedisArgs> sets, gets;
  std::set<std::string> nodes;
  for (int i = 0; i < 300; ++i) {
    const std::string key = p + ":k" + std::to_string(i);
    nodes.insert(MasterOfSlot(c, HashSlot(key)));
    sets.push_back({"SET", key, std::to_string(i * 7), "EX", "600"});
    gets.push_back({"GET", key});
  }
  EXPECT_EQ(nodes.size(), 3u);  // the keys really are spread over every master
  ASSERT_TRUE(c.Pipeline(sets).ok());
  auto got = c.Pipeline(gets);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (int i = 0; i < 300; ++i) EXPECT_EQ((*got)[i].str, std::to_string(i * 7));
  auto ping = c.Command({"PING"});
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->str, "PONG");
  EXPECT_EQ(c.stats().moved + c.stats().ask, 0u);
}

TEST(ClusterClient, FollowsAskDuringMigrationAndMovedAfterIt) {
  ClusterClient c(Cluster().Options());
  ASSERT_TRUE(c.Connect().ok());
  const std::string tag = "{" + TestRedis::Get().UniquePrefix("mig") + "}";
  const std::string present = tag + ":present", absent = tag + ":absent";
  const int slot = HashSlot(present);
  ASSERT_TRUE(c.Command({"SET", present, "v1"}).ok());
  const std::string from = MasterOfSlot(c, slot);
  std::string to;
  for (const std::string& m : c.Masters()) {
    if (m != from) to = m;
  }
  RedisClient src(Cluster().NodeEndpoint(from)), dst(Cluster().NodeEndpoint(to));
  const std::string from_id = Cluster().NodeId(from), to_id = Cluster().NodeId(to);
  const std::string s = std::to_string(slot);
  ASSERT_FALSE(dst.Command({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id})->is_error());
  ASSERT_FALSE(src.Command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id})->is_error());

  // A key the source does not have: ASK to the target, which accepts it after ASKING.
  auto set = c.Command({"SET", absent, "v2"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_FALSE(set->is_error()) << set->str;
  EXPECT_GE(c.stats().ask, 1u);
  EXPECT_EQ(c.Command({"GET", present})->str, "v1");  // still on the source

  // Move the remaining key, then give the slot to the target everywhere.
  std::string host;
  int port = 0;
  SplitHostPort(to, &host, &port);
  auto mig = src.Command({"MIGRATE", host, std::to_string(port), "", "0", "5000", "KEYS", present});
  ASSERT_TRUE(mig.ok());
  ASSERT_FALSE(mig->is_error()) << mig->str;
  for (const std::string& m : c.Masters()) {
    RedisClient node(Cluster().NodeEndpoint(m));
    ASSERT_FALSE(node.Command({"CLUSTER", "SETSLOT", s, "NODE", to_id})->is_error());
  }
  const uint64_t moved_before = c.stats().moved;
  auto got = c.Pipeline({{"GET", present}, {"GET", absent}});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)[0].str, "v1");
  EXPECT_EQ((*got)[1].str, "v2");
  EXPECT_GT(c.stats().moved, moved_before);
  EXPECT_EQ(MasterOfSlot(c, slot), to);
}

class ClusterSinkTest : public ::testing::Test {
 protected:
  ClusterSinkTest()
      : day_(sink_internal::FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_((day_ + 1) * kDay * 1000000 + 12 * kHour * 1000000LL) {}

  static QueryParams Params(int64_t from, int64_t to) {
    QueryParams p;
    p.from_s = from;
    p.to_s = to;
    return p;
  }

  int64_t day_;
  ManualClock clock_;
};

TEST_F(ClusterSinkTest, SameAnswersAsASingleRedis) {
  const std::string prefix = TestRedis::Get().UniquePrefix("same");
  const int64_t from = day_ * kDay, to = from + kDay;
  const auto requests = testing::MixedRequests(from, to, 4000, 17);
  FlushBatch batch = testing::BatchFor(requests);

  RedisClient single(TestRedis::Get().endpoint());
  RedisSink single_sink(&single, KeySchema(prefix), SinkOptions{}, &clock_);
  const Status single_st = single_sink.Flush(batch);
  ASSERT_TRUE(single_st.ok()) << single_st.ToString();
  ClusterClient cluster(Cluster().Options());
  RedisSink cluster_sink(&cluster, KeySchema(prefix), SinkOptions{}, &clock_);
  Status st = cluster_sink.Flush(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();

  QueryEngine a(&single, KeySchema(prefix), RetentionSeconds{}, &clock_);
  QueryEngine b(&cluster, KeySchema(prefix), RetentionSeconds{}, &clock_);
  for (auto [f, t] :
       {std::pair{from, to}, std::pair{from + 3 * kHour + 17 * 60, from + 9 * kHour}}) {
    QueryParams p = Params(f, t);
    EXPECT_EQ(*ToJson(b.Overview(p)), *ToJson(a.Overview(p)));
    EXPECT_EQ(*ToJson(b.Endpoints(p)), *ToJson(a.Endpoints(p)));
    EXPECT_EQ(*ToJson(b.Customers(p)), *ToJson(a.Customers(p)));
    EXPECT_EQ(*ToJson(b.Timeseries(p)), *ToJson(a.Timeseries(p)));
    EXPECT_EQ(*ToJson(b.Slow(p)), *ToJson(a.Slow(p)));
  }
  const auto want = testing::Compute(requests, from, to);
  EXPECT_EQ(ToJson(b.Overview(Params(from, to)))->at("requests").get<uint64_t>(), want.requests);
}

// Issue 14.1: a (tier, bucket, shard) group of more than 200 series takes
// several script calls; each call must apply, not only the first (they once
// shared one dedupe marker field, and the later calls were skipped).
TEST_F(ClusterSinkTest, GroupOfMoreThan200SeriesIsWrittenWhole) {
  const std::string prefix = TestRedis::Get().UniquePrefix("biggroup");
  const KeySchema schema(prefix);
  FlushBatch batch;
  batch.host = "web1";
  const std::string sep(1, kNameSeparator);
  for (int i = 0; i < 650; ++i) {
    Rollup r;
    r.AddRequest(200, 10, 100, 1000 + i);
    batch.series.push_back({Tier::kDay, day_, SeriesKind::kCustomerEndpoint,
                            "acme" + sep + "GET /v1/e" + std::to_string(i), r});
  }
  ClusterClient cluster(Cluster().Options());
  RedisSink sink(&cluster, schema, SinkOptions{}, &clock_);
  Status st = sink.Flush(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(sink.stats().groups_already_applied, 0u);
  std::vector<RedisArgs> reads;
  for (int i = 0; i < 650; ++i) {
    reads.push_back({"HGET",
                     schema.SeriesKey(Tier::kDay, day_, SeriesKind::kCustomerEndpoint,
                                      "acme" + sep + "GET /v1/e" + std::to_string(i)),
                     "n"});
  }
  auto got = cluster.Pipeline(reads);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  size_t written = 0;
  for (const RedisReply& r : *got) written += r.str == "1" ? 1 : 0;
  EXPECT_EQ(written, 650u);
  auto index =
      cluster.Command({"ZCARD", schema.CustomerEndpointIndexKey(Tier::kDay, day_, "acme")});
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->integer, 650);
}

TEST_F(ClusterSinkTest, FlushStoppedBetweenSlotsIsFinishedExactlyOnce) {
  const std::string prefix = TestRedis::Get().UniquePrefix("crash");
  const int64_t from = day_ * kDay, to = from + kDay;
  const auto first = testing::MixedRequests(from, to, 2000, 5);
  const auto second = testing::MixedRequests(from, to, 500, 6);
  FlushBatch a = testing::BatchFor(first);
  a.id = "batch-a";
  a.checkpoints.push_back({"file1", "", "0-1000"});
  FlushBatch b = testing::BatchFor(second);
  b.id = "batch-b";
  b.checkpoints.push_back({"file1", "0-1000", "0-2000"});

  // Short enough that the paused master's writes time out quickly, long
  // enough that the other masters answer on a busy machine (the groups they
  // hold must be applied by this first attempt).
  ClusterOptions quick = Cluster().Options();
  quick.node.command_timeout = std::chrono::milliseconds(1500);
  quick.max_wait = std::chrono::milliseconds(200);
  ClusterClient writer1(quick);
  ASSERT_TRUE(writer1.Connect().ok());
  KeySchema schema(prefix);
  // Pause writes on a master that holds neither the host's slot nor the
  // day's admission registry (whose slot changes with the date): admission
  // and the commit point succeed, the groups on that master do not. The
  // pause lasts until the UNPAUSE below, however slow the build or the
  // machine is (a 10 s bound expired under ASan at a load of 15, and the
  // flush then succeeded); PausedWrites ends it if an assertion returns first.
  const std::string host_node = MasterOfSlot(writer1, HashSlot(schema.HostTag(a.host)));
  const std::string registry_node = MasterOfSlot(writer1, HashSlot(schema.RegistryKey(day_, 'e')));
  std::string paused;
  for (const std::string& m : writer1.Masters()) {
    if (m != host_node && m != registry_node) paused = m;
  }
  ASSERT_FALSE(paused.empty());
  testing::PausedWrites pause(Cluster(), paused);
  ASSERT_TRUE(pause.ok());
  RedisSink sink1(&writer1, schema, SinkOptions{}, &clock_);
  Status st = sink1.Flush(a);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("committed, applying it"), std::string::npos) << st.ToString();
  ASSERT_TRUE(pause.Unpause());

  // The checkpoint moved with the commit point: a second process sees it,
  // and reading it finishes batch a (journal) before anything is flushed.
  ClusterClient writer2(Cluster().Options());
  RedisSink sink2(&writer2, schema, SinkOptions{}, &clock_);
  EXPECT_EQ(*sink2.ReadCheckpoint(a.host, "file1"), "0-1000");
  EXPECT_EQ(sink2.stats().journals_recovered, 1u);
  EXPECT_GT(sink2.stats().groups_already_applied, 0u);  // the groups a applied itself
  QueryEngine q(&writer2, schema, RetentionSeconds{}, &clock_);
  EXPECT_EQ(ToJson(q.Overview(Params(from, to)))->at("requests").get<uint64_t>(), first.size());
  // Its first flush writes batch b.
  st = sink2.Flush(b);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(sink2.stats().journals_recovered, 1u);  // not twice

  const uint64_t want = first.size() + second.size();
  EXPECT_EQ(ToJson(q.Overview(Params(from, to)))->at("requests").get<uint64_t>(), want);
  // Writer 1 retries its batch (outcome unknown to it): nothing counted twice.
  st = sink1.Flush(a);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ToJson(q.Overview(Params(from, to)))->at("requests").get<uint64_t>(), want);
  auto endpoints = ToJson(q.Endpoints(Params(from, to)));
  ASSERT_TRUE(endpoints.ok());
  std::vector<testing::TestRequest> all = first;
  all.insert(all.end(), second.begin(), second.end());
  for (const auto& e : endpoints->at("endpoints")) {
    const std::string name = e.at("endpoint").get<std::string>();
    const auto exp = testing::Compute(
        all, from, to, [&](const testing::TestRequest& r) { return r.endpoint == name; });
    EXPECT_EQ(e.at("requests").get<uint64_t>(), exp.requests) << name;
  }
  // A stale checkpoint is still refused (compare-and-set in the host's slot).
  FlushBatch stale = testing::BatchFor(second);
  stale.id = "batch-stale";
  stale.checkpoints.push_back({"file1", "0-1000", "0-3000"});
  EXPECT_EQ(sink2.Flush(stale).code(), StatusCode::kAborted);
  EXPECT_EQ(ToJson(q.Overview(Params(from, to)))->at("requests").get<uint64_t>(), want);
}

// A replica that died is still listed by a topology read before its death,
// so every WAIT for it comes back short and no I/O error ever forces a
// reload. The flush that meets the short WAIT fails (nothing applied); the
// next one reads the topology again, which no longer lists the replica, and
// goes through: the writer is not stuck, and nothing is counted twice.
TEST_F(ClusterSinkTest, ShortWaitReloadsTheTopologySoADeadReplicaDoesNotStallFlushes) {
  TestCluster replicated(3, 1, /*node_timeout_ms=*/500);
  const std::string prefix = TestRedis::Get().UniquePrefix("replica");
  const int64_t from = day_ * kDay, to = from + kDay;
  const auto requests = testing::MixedRequests(from, to, 1000, 8);
  FlushBatch batch = testing::BatchFor(requests);
  batch.id = "batch-r";
  batch.checkpoints.push_back({"file1", "", "0-1000"});

  ClusterOptions o = replicated.Options();
  o.wait_timeout = std::chrono::milliseconds(300);
  ClusterClient client(o);
  ASSERT_TRUE(client.Connect().ok());
  KeySchema schema(prefix);
  const int slot = HashSlot(schema.HostTag(batch.host));
  ASSERT_EQ(client.ReplicasOfSlot(slot), 1);
  const std::string master = MasterOfSlot(client, slot);
  const std::vector<std::string> replicas = replicated.ReplicasOf(master);
  ASSERT_EQ(replicas.size(), 1u) << master;
  replicated.Kill(replicas[0]);
  // The cluster drops it from CLUSTER SLOTS once it is marked failed (node
  // timeout 0.5 s); this client's topology still lists it.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!replicated.ReplicasOf(master).empty() && std::chrono::steady_clock::now() < until) {
    ::usleep(20000);  // polling a condition against a deadline
  }
  ASSERT_TRUE(replicated.ReplicasOf(master).empty());
  ASSERT_EQ(client.ReplicasOfSlot(slot), 1);

  RedisSink sink(&client, schema, SinkOptions{}, &clock_);
  Status st = sink.Flush(batch);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_GE(client.stats().unreplicated, 1u);
  const uint64_t refreshes = client.stats().refreshes;
  st = sink.Flush(batch);  // the agent's retry of the same batch
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT(client.stats().refreshes, refreshes);
  EXPECT_EQ(client.ReplicasOfSlot(slot), 0);

  QueryEngine q(&client, schema, RetentionSeconds{}, &clock_);
  EXPECT_EQ(ToJson(q.Overview(Params(from, to)))->at("requests").get<uint64_t>(), requests.size());
  EXPECT_EQ(*sink.ReadCheckpoint(batch.host, "file1"), "0-1000");
}

}  // namespace
}  // namespace apimeter

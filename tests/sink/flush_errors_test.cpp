// No error is swallowed in a flush (issue 14; docs/redis-schema.md): an error
// reply at any point of the write path fails the flush with that reason,
// standalone and cluster.
// - Standalone: FaultInjectingRedis puts an error reply at each point
//   (admission, the checkpoint check, MULTI, a queued command, each kind of
//   command inside EXEC, EXEC itself, UNWATCH) over a real redis-server.
// - Cluster: a real 3-master Redis Cluster whose ACL refuses one command at
//   a time (a real NOPERM error reply, inside scripts too): admission,
//   token and checkpoint check, journal commit, series scripts, their
//   guard, slow requests, journal close, roll-forward, recovery, and WAIT on
//   a cluster with replicas. Each flush must fail naming the command; once
//   the command is allowed again, the retry of the same batch must leave
//   exactly what a standalone Redis holds for that batch.
// - Cluster: a key of the wrong type in the middle of a group fails the call
//   with nothing of it written, and the retry after the key is fixed is exact.
#include <gtest/gtest.h>

#include <functional>

#include "common/time_util.h"
#include "sink/cluster_client.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"
#include "tests/query/test_data.h"
#include "tests/sink/fault_injecting_redis.h"
#include "tests/support/store_dump.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::FaultInjectingRedis;
using testing::TestCluster;
using testing::TestRedis;
using Where = FaultInjectingRedis::Where;

constexpr int64_t kDay = 86400;

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// An hour of yesterday's traffic (every tier, series kind and slow
// requests), plus one customer with 450 endpoints: its day-tier customer x
// endpoint series make a group of more than 200 series, written by three
// script calls.
FlushBatch MakeBatch(int64_t day, const std::string& id) {
  const int64_t from = day * kDay + 10 * 3600;
  FlushBatch b = testing::BatchFor(testing::MixedRequests(from, from + 3600, 300, 3));
  for (int i = 0; i < 450; ++i) {
    Rollup r;
    r.AddRequest(200, 10, 100 + i, 1000 + i);
    b.series.push_back({Tier::kDay, day, SeriesKind::kCustomerEndpoint,
                        "bigco" + std::string(1, kNameSeparator) + "GET /v1/e" + std::to_string(i),
                        r});
  }
  b.id = id;
  b.checkpoints.push_back({"file1", "", "0-1000"});
  return b;
}

// The shared test server, with a command timeout no busy machine reaches:
// a timeout would fail a flush for another reason than the one injected.
RedisEndpoint Standalone() {
  RedisEndpoint ep = TestRedis::Get().endpoint();
  ep.command_timeout = std::chrono::seconds(60);
  return ep;
}

class FlushErrorsTest : public ::testing::Test {
 protected:
  FlushErrorsTest()
      : day_(sink_internal::FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_(SystemClock().NowMicros()) {}

  int64_t day_;
  ManualClock clock_;
};

// ---- Standalone: an injected error reply at each point ----

struct Point {
  const char* name;
  std::function<bool(const RedisArgs&)> match;
  Where where;
};

void PrintTo(const Point& p, std::ostream* os) { *os << p.name; }

bool IsSeriesEval(const RedisArgs& a) { return a[0] == "EVAL" && Contains(a[1], "HINCRBY"); }

const Point kStandalonePoints[] = {
    {"admission", [](const RedisArgs& a) { return a[0] == "EVAL" && Contains(a[1], "SISMEMBER"); },
     Where::kReply},
    {"watch", [](const RedisArgs& a) { return a[0] == "WATCH"; }, Where::kReply},
    {"exists", [](const RedisArgs& a) { return a[0] == "EXISTS"; }, Where::kReply},
    {"mget", [](const RedisArgs& a) { return a[0] == "MGET"; }, Where::kReply},
    {"multi", [](const RedisArgs& a) { return a[0] == "MULTI"; }, Where::kReply},
    {"queued", IsSeriesEval, Where::kReply},
    {"series", IsSeriesEval, Where::kInExec},
    {"slow_zadd", [](const RedisArgs& a) { return a[0] == "ZADD"; }, Where::kInExec},
    {"slow_trim", [](const RedisArgs& a) { return a[0] == "ZREMRANGEBYRANK"; }, Where::kInExec},
    {"slow_expire", [](const RedisArgs& a) { return a[0] == "EXPIREAT"; }, Where::kInExec},
    {"checkpoint", [](const RedisArgs& a) { return a[0] == "SET" && Contains(a[1], ":ckpt:"); },
     Where::kInExec},
    {"token", [](const RedisArgs& a) { return a[0] == "SET" && Contains(a[1], ":flush:"); },
     Where::kInExec},
    {"exec", [](const RedisArgs& a) { return a[0] == "EXEC"; }, Where::kReply},
};

class StandaloneFlushErrorTest : public FlushErrorsTest,
                                 public ::testing::WithParamInterface<Point> {};

TEST_P(StandaloneFlushErrorTest, FailsWithTheReason) {
  RedisClient real(Standalone());
  FaultInjectingRedis faulty(&real);
  const std::string reason = std::string("ERR injected at ") + GetParam().name;
  faulty.Fail(GetParam().match, GetParam().where, reason);
  RedisSink sink(&faulty, KeySchema(TestRedis::Get().UniquePrefix("err")), SinkOptions{}, &clock_);
  Status st = sink.Flush(MakeBatch(day_, "b1"));
  ASSERT_TRUE(faulty.AllFired()) << "the batch never sent a command to fail";
  EXPECT_EQ(st.code(), StatusCode::kInternal) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), reason)) << st.ToString();
  EXPECT_EQ(sink.stats().failures, 1u);
  EXPECT_EQ(sink.stats().flushes, 0u);
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, StandaloneFlushErrorTest,
                         ::testing::ValuesIn(kStandalonePoints),
                         [](const ::testing::TestParamInfo<Point>& p) { return p.param.name; });

TEST_F(FlushErrorsTest, StandaloneUnwatchFailureIsReported) {
  RedisClient real(Standalone());
  const KeySchema schema(TestRedis::Get().UniquePrefix("unwatch"));
  const FlushBatch batch = MakeBatch(day_, "b1");
  {
    RedisSink sink(&real, schema, SinkOptions{}, &clock_);
    ASSERT_TRUE(sink.Flush(batch).ok());
  }
  // The same batch again: its token shows it applied, and UNWATCH follows.
  FaultInjectingRedis faulty(&real);
  faulty.Fail([](const RedisArgs& a) { return a[0] == "UNWATCH"; }, Where::kReply,
              "ERR injected at unwatch");
  RedisSink sink(&faulty, schema, SinkOptions{}, &clock_);
  Status st = sink.Flush(batch);
  ASSERT_TRUE(faulty.AllFired());
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "ERR injected at unwatch")) << st.ToString();

  // A checkpoint that moved: Aborted, and the failed UNWATCH is said too.
  FlushBatch stale = MakeBatch(day_, "b2");
  FaultInjectingRedis faulty2(&real);
  faulty2.Fail([](const RedisArgs& a) { return a[0] == "UNWATCH"; }, Where::kReply,
               "ERR injected at unwatch");
  RedisSink sink2(&faulty2, schema, SinkOptions{}, &clock_);
  st = sink2.Flush(stale);
  ASSERT_TRUE(faulty2.AllFired());
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "ERR injected at unwatch")) << st.ToString();
}

// ---- Cluster: a real NOPERM at each point, then an exact retry ----

TestCluster& Cluster() {
  static TestCluster cluster(3, 0);
  return cluster;
}

// An ACL user on every node of `cluster` that may run everything but `deny`.
class AclUser {
 public:
  AclUser(const TestCluster& cluster, std::string name)
      : cluster_(cluster), name_(std::move(name)) {
    Set({"on", ">secret-" + name_, "~*", "&*", "+@all"});
  }
  ~AclUser() {
    for (const std::string& n : cluster_.seeds()) {
      (void)RedisClient(cluster_.NodeEndpoint(n)).Command({"ACL", "DELUSER", name_});
    }
  }
  void Deny(const std::string& command) { Set({"-" + command}); }
  void Allow(const std::string& command) { Set({"+" + command}); }
  ClusterOptions Options() const {
    ClusterOptions o = cluster_.Options();
    o.node.username = name_;
    o.node.password = "secret-" + name_;
    o.node.command_timeout = std::chrono::seconds(30);  // as Standalone()
    o.max_wait = std::chrono::milliseconds(500);
    return o;
  }

 private:
  void Set(const std::vector<std::string>& rules) {
    for (const std::string& n : cluster_.seeds()) {
      RedisArgs args{"ACL", "SETUSER", name_};
      args.insert(args.end(), rules.begin(), rules.end());
      auto r = RedisClient(cluster_.NodeEndpoint(n)).Command(args);
      ASSERT_TRUE(r.ok() && !r->is_error()) << n << ": " << (r.ok() ? r->str : "");
    }
  }
  const TestCluster& cluster_;
  std::string name_;
};

class ClusterFlushErrorsTest : public FlushErrorsTest {
 protected:
  // Compares the data the cluster holds under `prefix` with what a
  // standalone Redis holds after flushing `batch` once: every data key (all
  // tiers, indexes, max, slow, registry), field for field. Checkpoints are
  // compared by value; tokens and markers are bookkeeping of their own.
  void ExpectSameAsStandalone(const std::string& prefix, const FlushBatch& batch,
                              const TestCluster& cluster) {
    RedisClient single(Standalone());
    RedisSink reference(&single, KeySchema(prefix), SinkOptions{}, &clock_);
    ASSERT_TRUE(reference.Flush(batch).ok());
    auto want = testing::DumpStore({TestRedis::Get().endpoint()}, prefix);
    std::vector<RedisEndpoint> nodes;
    for (const std::string& n : cluster.seeds()) {
      RedisClient c(cluster.NodeEndpoint(n));
      auto role = c.Command({"ROLE"});
      if (role.ok() && !role->elements.empty() && role->elements[0].str == "master") {
        nodes.push_back(cluster.NodeEndpoint(n));
      }
    }
    auto got = testing::DumpStore(nodes, prefix);
    ASSERT_TRUE(want.ok() && got.ok());
    auto data = [&](const testing::StoreDump& d) {
      std::map<std::string, std::string> out;
      for (const auto& [key, v] : d) {
        const std::string cat = testing::KeyCategory(prefix, key);
        if (cat == "token" || cat == "marker") continue;
        EXPECT_NE(cat, "journal") << key;
        EXPECT_NE(cat, "pending") << key;
        const std::string name =
            cat == "checkpoint" ? "checkpoint " + key.substr(key.rfind(':')) : key;
        out[name] = v.type + " " + v.value +
                    (cat == "checkpoint" ? "" : " expire " + std::to_string(v.expire_at));
      }
      return out;
    };
    const auto a = data(*want), b = data(*got);
    EXPECT_EQ(a.size(), b.size());
    size_t shown = 0;
    for (const auto& [key, value] : a) {
      auto it = b.find(key);
      if (it == b.end() || it->second != value) {
        ADD_FAILURE() << (it == b.end() ? "missing in the cluster: " : "differs: ") << key;
        if (++shown == 5) break;
      }
    }
  }

  // Refuses `deny` while one flush of a fresh batch runs; that flush must
  // fail with `code` and Redis's reason: NOPERM naming the command, or, for
  // a command inside a script, kInScript. Then the retry of the same batch,
  // with everything allowed, must be exact.
  static constexpr const char* kInScript = "script can't run this command";
  void FailOnceThenRetry(const std::vector<std::string>& deny, StatusCode code,
                         const std::string& reason = "") {
    const std::string name = deny.front();
    SCOPED_TRACE("denied: " + name);
    AclUser user(Cluster(), "flushtest-" + name);
    const std::string prefix = TestRedis::Get().UniquePrefix("acl-" + name);
    const FlushBatch batch = MakeBatch(day_, "batch-" + name);
    ClusterClient client(user.Options());
    RedisSink sink(&client, KeySchema(prefix), SinkOptions{}, &clock_);
    for (const std::string& d : deny) user.Deny(d);
    Status st = sink.Flush(batch);
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_TRUE(Contains(st.message(), reason.empty() ? "'" + name + "'" : reason))
        << st.ToString();
    for (const std::string& d : deny) user.Allow(d);
    st = sink.Flush(batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectSameAsStandalone(prefix, batch, Cluster());
  }
};

TEST_F(ClusterFlushErrorsTest, ErrorAtEachPointFailsTheFlushAndTheRetryIsExact) {
  // Before the commit point: nothing written, the retry writes it all.
  FailOnceThenRetry({"sismember"}, StatusCode::kInternal, kInScript);  // admission script
  FailOnceThenRetry({"exists"}, StatusCode::kInternal);                // batch token check
  FailOnceThenRetry({"mget"}, StatusCode::kInternal);                  // checkpoint check
  FailOnceThenRetry({"rpush"}, StatusCode::kInternal);                 // journal, in MULTI
  // After it: the journal stays and the retry finishes it.
  FailOnceThenRetry({"hincrby"}, StatusCode::kInternal, kInScript);  // series scripts
  FailOnceThenRetry({"hset"}, StatusCode::kInternal, kInScript);     // their dedupe guard
  FailOnceThenRetry({"zremrangebyrank"}, StatusCode::kInternal);     // slow requests
  FailOnceThenRetry({"srem"}, StatusCode::kInternal);                // closing the journal
}

TEST_F(ClusterFlushErrorsTest, RollForwardAndRecoveryErrorsAreReported) {
  AclUser user(Cluster(), "flushtest-journal");
  const std::string prefix = TestRedis::Get().UniquePrefix("acl-journal");
  const FlushBatch batch = MakeBatch(day_, "batch-journal");
  {
    // A flush committed but not applied: the journal stays.
    ClusterClient client(user.Options());
    RedisSink sink(&client, KeySchema(prefix), SinkOptions{}, &clock_);
    user.Deny("hincrby");
    EXPECT_EQ(sink.Flush(batch).code(), StatusCode::kInternal);
    user.Allow("hincrby");
    // Its retry cannot read the journal back.
    user.Deny("lrange");
    Status st = sink.Flush(batch);
    EXPECT_FALSE(st.ok());
    EXPECT_TRUE(Contains(st.message(), "'lrange'")) << st.ToString();
    user.Allow("lrange");
  }
  // The next process of the host cannot list the pending journals...
  ClusterClient client(user.Options());
  RedisSink sink(&client, KeySchema(prefix), SinkOptions{}, &clock_);
  FlushBatch next =
      testing::BatchFor(testing::MixedRequests(day_ * kDay, (day_ + 1) * kDay, 10, 4));
  next.id = "batch-next";
  next.checkpoints.push_back({"file1", "0-1000", "0-2000"});
  user.Deny("smembers");
  Status st = sink.Flush(next);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "'smembers'")) << st.ToString();
  user.Allow("smembers");
  // ... and once it can, finishes the first batch exactly, then its own.
  st = sink.Flush(next);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(sink.stats().journals_recovered, 1u);
  FlushBatch both = batch;
  both.series.insert(both.series.end(), next.series.begin(), next.series.end());
  both.slow.insert(both.slow.end(), next.slow.begin(), next.slow.end());
  both.checkpoints = next.checkpoints;
  both.checkpoints.front().expected = "";
  ExpectSameAsStandalone(prefix, both, Cluster());
}

TEST_F(ClusterFlushErrorsTest, WrongTypeInAGroupWritesNothingOfThatCallAndTheRetryIsExact) {
  const std::string prefix = TestRedis::Get().UniquePrefix("cl-wrongtype");
  const KeySchema schema(prefix);
  const FlushBatch batch = MakeBatch(day_, "batch-wrongtype");
  const std::string bad =
      schema.SeriesKey(Tier::kDay, day_, SeriesKind::kCustomerEndpoint,
                       "bigco" + std::string(1, kNameSeparator) + "GET /v1/e299");
  ClusterOptions o = Cluster().Options();
  o.node.command_timeout = std::chrono::seconds(30);  // as Standalone()
  ClusterClient client(o);
  ASSERT_TRUE(client.Command({"SET", bad, "x"}).ok());
  RedisSink sink(&client, schema, SinkOptions{}, &clock_);
  Status st = sink.Flush(batch);
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_TRUE(Contains(st.message(), "WRONGTYPE")) << st.ToString();
  // The operator fixes the key; the retry applies the failed call, once.
  ASSERT_TRUE(client.Command({"DEL", bad}).ok());
  st = sink.Flush(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT(sink.stats().groups_already_applied, 0u);  // the calls that had succeeded
  ExpectSameAsStandalone(prefix, batch, Cluster());
}

// WAIT needs replicas: a cluster of its own (3 masters, 1 replica each).
TEST_F(ClusterFlushErrorsTest, WaitErrorIsReportedAndTheRetryIsExact) {
  TestCluster replicated(3, 1);
  AclUser user(replicated, "flushtest-wait");
  const std::string prefix = TestRedis::Get().UniquePrefix("acl-wait");
  const FlushBatch batch = MakeBatch(day_, "batch-wait");
  ClusterClient client(user.Options());
  RedisSink sink(&client, KeySchema(prefix), SinkOptions{}, &clock_);
  user.Deny("wait");
  Status st = sink.Flush(batch);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "'wait'")) << st.ToString();
  user.Allow("wait");
  st = sink.Flush(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectSameAsStandalone(prefix, batch, replicated);
}

}  // namespace
}  // namespace apimeter

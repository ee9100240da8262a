// Redis AUTH on a cluster (issue 17): a real 3-master cluster started with
// requirepass, and an ACL user created on every node. Clients are made the
// way the runtime makes them (NewRedisCommands over redis.cluster seeds, one
// of them a redis:// URL carrying the user and password): storage v2 and v1
// flush and read back through it; a wrong password is a clear error.
#include <gtest/gtest.h>

#include "common/time_util.h"
#include "query/query_engine.h"
#include "sink/block_reader.h"
#include "sink/block_sink.h"
#include "sink/cluster_block_flush.h"
#include "sink/cluster_client.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"
#include "tests/query/test_data.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

namespace apimeter {
namespace {

using sink_internal::FloorDiv;
using testing::TestCluster;
using testing::TestRedis;

constexpr char kAdminPassword[] = "adm1n-S3cret";
constexpr char kUser[] = "apimeter";
constexpr char kUserPassword[] = "p@ss:w/rd";  // reserved characters, %-encoded in the URL
constexpr char kUserPasswordInUrl[] = "p%40ss%3Aw%2Frd";

TestCluster& Cluster() {
  static TestCluster cluster(3, 0, 2000, kAdminPassword);
  return cluster;
}

class ClusterAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // ACLs are per node: the user is created on each.
    for (const std::string& node : Cluster().seeds()) {
      RedisClient admin(Cluster().NodeEndpoint(node));
      auto r = admin.Command({"ACL", "SETUSER", kUser, "reset", "on",
                              std::string(">") + kUserPassword, "~*", "&*", "+@all"});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_FALSE(r->is_error()) << r->str;
    }
  }

  // redis.cluster as an operator writes it: the credentials on the first seed.
  static std::vector<std::string> Seeds(const std::string& user, const std::string& password) {
    std::vector<std::string> seeds = Cluster().seeds();
    std::string userinfo = password;
    if (!user.empty()) userinfo = user + ":" + password;
    seeds[0] = "redis://" + userinfo + "@" + seeds[0];
    return seeds;
  }

  static std::unique_ptr<RedisCommands> Client(const std::vector<std::string>& seeds) {
    RedisEndpoint node;  // redis.url's defaults: no password of its own
    node.connect_timeout = std::chrono::milliseconds(1000);
    node.command_timeout = std::chrono::milliseconds(5000);
    return NewRedisCommands(node, seeds);
  }
};

TEST_F(ClusterAuthTest, AclUserFlushesAndReadsThroughTheCluster) {
  auto client = Client(Seeds(kUser, kUserPasswordInUrl));
  ASSERT_TRUE(client->Connect().ok());
  auto* cluster = dynamic_cast<ClusterClient*>(client.get());
  ASSERT_NE(cluster, nullptr);
  auto who = cluster->Command({"ACL", "WHOAMI"});
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->str, kUser);

  // Storage v2.
  SystemClock clock;
  const int64_t now = clock.NowSeconds();
  const int64_t from = now / 3600 * 3600 - 3600, to = from + 3600;
  const auto requests = testing::MixedRequests(from, to, 2000, 23);
  FlushBatch batch = testing::BatchFor(requests);
  batch.id = "auth-v2";
  batch.checkpoints.push_back({"log", "", "2000"});
  const BlockKeys keys(TestRedis::Get().UniquePrefix("auth2"));
  ClusterBlockFlush protocol(cluster, keys);
  BlockSink sink(client.get(), &protocol, keys, SinkOptions{}, &clock);
  Status st = sink.Flush(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto hour = ReadBucketSeries(*client, keys, Tier::kHour, FloorDiv(from, 3600));
  ASSERT_TRUE(hour.ok()) << hour.status().ToString();
  EXPECT_EQ(hour->at({SeriesKind::kAll, ""}).requests,
            testing::Compute(requests, from, to).requests);

  // v1 (the live path until storage v2 is wired in) and its query engine.
  const KeySchema schema(TestRedis::Get().UniquePrefix("auth1"));
  RedisSink v1(client.get(), schema, SinkOptions{}, &clock);
  batch.id = "auth-v1";
  st = v1.Flush(batch);
  ASSERT_TRUE(st.ok()) << st.ToString();
  QueryEngine q(client.get(), schema, RetentionSeconds{}, &clock);
  QueryParams p;
  p.from_s = from;
  p.to_s = to;
  auto overview = ToJson(q.Overview(p));
  ASSERT_TRUE(overview.ok()) << overview.status().ToString();
  EXPECT_EQ(overview->at("requests").get<uint64_t>(), requests.size());
}

TEST_F(ClusterAuthTest, DefaultUserWithRequirepassWorks) {
  auto client = Client(Seeds("", kAdminPassword));
  ASSERT_TRUE(client->Connect().ok());
  auto pong = client->Command({"PING"});
  ASSERT_TRUE(pong.ok());
  EXPECT_EQ(pong->str, "PONG");
}

TEST_F(ClusterAuthTest, WrongOrMissingPasswordIsAClearError) {
  auto wrong = Client(Seeds(kUser, "not-the-password"));
  Status st = wrong->Connect();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("authentication failed"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("WRONGPASS"), std::string::npos) << st.ToString();
  EXPECT_EQ(st.message().find("not-the-password"), std::string::npos) << "never echoed";

  auto none = Client(Cluster().seeds());
  st = none->Connect();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("NOAUTH"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace apimeter

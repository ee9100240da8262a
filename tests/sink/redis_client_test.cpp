// RedisClient: URL parsing and masking (unit), and commands, pipelines, error
// replies, reconnects and timeouts against a real redis-server.
#include "sink/redis_client.h"

#include <gtest/gtest.h>

#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::TestRedis;

TEST(ParseRedisUrl, HostPortDb) {
  auto ep = ParseRedisUrl("redis://cache.internal:6380/3");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->host, "cache.internal");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 3);
  EXPECT_TRUE(ep->password.empty());
  EXPECT_TRUE(ep->unix_socket.empty());
}

TEST(ParseRedisUrl, Defaults) {
  auto ep = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "localhost");
  EXPECT_EQ(ep->port, 6379);
  EXPECT_EQ(ep->db, 0);
}

TEST(ParseRedisUrl, UserAndPassword) {
  auto ep = ParseRedisUrl("redis://meter:s%40cret@10.0.0.5:6379/1");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->username, "meter");
  EXPECT_EQ(ep->password, "s@cret");
  EXPECT_EQ(ep->host, "10.0.0.5");
  EXPECT_EQ(ep->db, 1);
}

TEST(ParseRedisUrl, PasswordOnly) {
  auto ep = ParseRedisUrl("redis://:pw@h:1");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->username, "");
  EXPECT_EQ(ep->password, "pw");
  EXPECT_EQ(ep->port, 1);
}

TEST(ParseRedisUrl, Ipv6) {
  auto ep = ParseRedisUrl("redis://[::1]:7000");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, 7000);
}

TEST(ParseRedisUrl, UnixSocket) {
  auto ep = ParseRedisUrl("unix:///run/redis/redis.sock?db=2");
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  EXPECT_EQ(ep->unix_socket, "/run/redis/redis.sock");
  EXPECT_EQ(ep->db, 2);
  auto plain = ParseRedisUrl("unix:///tmp/r.sock");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->db, 0);
}

TEST(ParseRedisUrl, BadPortSaysWhatIsWrong) {
  auto ep = ParseRedisUrl("redis://x:abc");
  ASSERT_FALSE(ep.ok());
  EXPECT_EQ(ep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ep.status().message(),
            "redis.url 'redis://x:abc' has a bad port 'abc'; expected redis://host:6379/0");
}

TEST(ParseRedisUrl, Rejections) {
  for (const char* bad :
       {"http://x", "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
        "redis://h:", "redis://h/x", "redis://h/-1", "unix://relative.sock", "unix:///s?db=x",
        "unix:///s?foo=1", "redis://[::1", "redis://u:%zz@h", "", "redis:/h"}) {
    auto ep = ParseRedisUrl(bad);
    EXPECT_FALSE(ep.ok()) << bad;
    if (!ep.ok()) {
      EXPECT_EQ(ep.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(ParseRedisUrl, ErrorNeverShowsPassword) {
  auto ep = ParseRedisUrl("redis://u:topsecret@h:notaport");
  ASSERT_FALSE(ep.ok());
  EXPECT_EQ(ep.status().message().find("topsecret"), std::string::npos);
  EXPECT_NE(ep.status().message().find("****"), std::string::npos);
}

TEST(MaskRedisUrl, MasksPasswordOnly) {
  EXPECT_EQ(MaskRedisUrl("redis://user:pw@h:6379/0"), "redis://user:****@h:6379/0");
  EXPECT_EQ(MaskRedisUrl("redis://:pw@h"), "redis://:****@h");
  EXPECT_EQ(MaskRedisUrl("redis://pw@h/1"), "redis://****@h/1");
  EXPECT_EQ(MaskRedisUrl("redis://h:6379/0"), "redis://h:6379/0");
  EXPECT_EQ(MaskRedisUrl("unix:///tmp/r.sock?db=1"), "unix:///tmp/r.sock?db=1");
  EXPECT_EQ(MaskRedisUrl("garbage"), "garbage");
}

class RedisClientTest : public ::testing::Test {
 protected:
  TestRedis& redis_ = TestRedis::Private();
  std::string prefix_ = redis_.UniquePrefix("client");
};

TEST_F(RedisClientTest, CommandRoundTripIsBinarySafe) {
  RedisClient c(redis_.endpoint());
  ASSERT_TRUE(c.Connect().ok());
  const std::string key = prefix_ + ":bin";
  const std::string value("a\0b\r\n\x1f", 6);
  auto set = c.Command({"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->type, RedisReply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");
  auto get = c.Command({"GET", key});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->type, RedisReply::Type::kString);
  EXPECT_EQ(get->str, value);
  auto missing = c.Command({"GET", prefix_ + ":missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
  EXPECT_EQ(c.commands_sent(), 3u);
}

TEST_F(RedisClientTest, PipelineKeepsOrderAndCounts) {
  RedisClient c(redis_.endpoint());
  const std::string key = prefix_ + ":n";
  std::vector<RedisArgs> cmds;
  for (int i = 0; i < 100; ++i) cmds.push_back({"INCRBY", key, std::to_string(i)});
  cmds.push_back({"LRANGE", prefix_ + ":nolist", "0", "-1"});
  auto r = c.Pipeline(cmds);  // connects on first use
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 101u);
  int64_t sum = 0;
  for (int i = 0; i < 100; ++i) {
    sum += i;
    ASSERT_EQ((*r)[i].type, RedisReply::Type::kInteger);
    EXPECT_EQ((*r)[i].integer, sum);
  }
  EXPECT_EQ((*r)[100].type, RedisReply::Type::kArray);
  EXPECT_TRUE((*r)[100].elements.empty());
  EXPECT_EQ(c.commands_sent(), 101u);
}

TEST_F(RedisClientTest, ErrorReplyIsAValueNotAFailure) {
  RedisClient c(redis_.endpoint());
  const std::string key = prefix_ + ":s";
  auto r = c.Pipeline({{"SET", key, "x"}, {"INCR", key}, {"GET", key}, {"NOSUCHCOMMAND"}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)[0].is_error());
  EXPECT_TRUE((*r)[1].is_error());
  EXPECT_NE((*r)[1].str.find("not an integer"), std::string::npos);
  EXPECT_EQ((*r)[2].str, "x");
  EXPECT_TRUE((*r)[3].is_error());
  EXPECT_TRUE(c.connected());
}

TEST_F(RedisClientTest, NestedArrays) {
  RedisClient c(redis_.endpoint());
  const std::string key = prefix_ + ":z";
  ASSERT_TRUE(c.Command({"ZADD", key, "1", "a", "2", "b"}).ok());
  auto r = c.Command({"ZRANGE", key, "0", "-1", "WITHSCORES"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->elements.size(), 4u);
  EXPECT_EQ(r->elements[0].str, "a");
  EXPECT_EQ(r->elements[3].str, "2");
  auto multi = c.Pipeline({{"MULTI"}, {"INCR", key + "c"}, {"INCR", key + "c"}, {"EXEC"}});
  ASSERT_TRUE(multi.ok());
  ASSERT_EQ((*multi)[3].type, RedisReply::Type::kArray);
  ASSERT_EQ((*multi)[3].elements.size(), 2u);
  EXPECT_EQ((*multi)[3].elements[1].integer, 2);
}

TEST_F(RedisClientTest, EmptyCommandIsInvalid) {
  RedisClient c(redis_.endpoint());
  auto r = c.Pipeline({{"PING"}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  auto none = c.Pipeline({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(RedisClientTest, SelectsDatabase) {
  RedisEndpoint ep = redis_.endpoint();
  ep.db = 5;
  RedisClient c(ep);
  const std::string key = prefix_ + ":db";
  ASSERT_TRUE(c.Command({"SET", key, "five"}).ok());
  RedisClient c0(redis_.endpoint());
  auto in0 = c0.Command({"EXISTS", key});
  ASSERT_TRUE(in0.ok());
  EXPECT_EQ(in0->integer, 0);
  auto in5 = c.Command({"GET", key});
  ASSERT_TRUE(in5.ok());
  EXPECT_EQ(in5->str, "five");
  c.Command({"DEL", key}).value();
}

TEST_F(RedisClientTest, WrongPasswordIsAClearError) {
  RedisEndpoint ep = redis_.endpoint();
  ep.password = "definitely-wrong";
  RedisClient c(ep);
  Status s = c.Connect();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("authentication failed"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("definitely-wrong"), std::string::npos);
  EXPECT_FALSE(c.connected());
}

TEST_F(RedisClientTest, UnreachableServerIsUnavailable) {
  RedisEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = 1;  // nothing listens on port 1
  ep.connect_timeout = std::chrono::milliseconds(500);
  RedisClient c(ep);
  auto r = c.Command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("127.0.0.1:1"), std::string::npos);
}

TEST_F(RedisClientTest, CommandTimeoutBreaksTheConnectionAndNextCallReconnects) {
  RedisEndpoint ep = redis_.endpoint();
  ep.command_timeout = std::chrono::milliseconds(100);
  RedisClient c(ep);
  ASSERT_TRUE(c.Connect().ok());
  // The server blocks for 2 s on an empty list; the client gives up at 100 ms.
  auto r = c.Command({"BLPOP", prefix_ + ":never", "2"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(c.connected());
  // A fresh connection: the late BLPOP reply can never be read as this answer.
  auto ping = c.Command({"PING"});
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(ping->str, "PONG");
}

TEST_F(RedisClientTest, ReconnectsAfterServerRestart) {
  RedisClient c(redis_.endpoint());
  const std::string key = prefix_ + ":restart";
  ASSERT_TRUE(c.Command({"SET", key, "kept"}).ok());
  redis_.Stop();
  auto during = c.Command({"GET", key});
  EXPECT_FALSE(during.ok());
  EXPECT_EQ(during.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(c.connected());
  redis_.Start();
  auto after = c.Command({"GET", key});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->str, "kept");  // AOF keeps data across the restart
}

}  // namespace
}  // namespace apimeter

// Redis Cluster pieces that need no server: CRC16 and hash slots (values
// from the Redis Cluster specification and the CLUSTER KEYSLOT docs), hash
// tags, command routing, CLUSTER SLOTS and MOVED/ASK parsing, and the cluster
// flush's journal encoding and dedupe guard.
#include <gtest/gtest.h>

#include "sink/cluster_client.h"
#include "sink/cluster_flush.h"
#include "sink/crc16.h"
#include "sink/schema.h"

namespace apimeter {
namespace {

TEST(Crc16, KnownValues) {
  // The cluster spec: "the output of CRC16 for '123456789' is 0x31C3".
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
  EXPECT_EQ(HashSlot("123456789"), 0x31C3 & 16383);
}

TEST(HashSlot, KnownSlotsFromTheRedisDocs) {
  EXPECT_EQ(HashSlot("somekey"), 11058);
  EXPECT_EQ(HashSlot("foo{hash_tag}"), 2515);
  EXPECT_EQ(HashSlot("{hash_tag}"), 2515);
  EXPECT_EQ(HashSlot("foo"), 12182);
  EXPECT_EQ(HashSlot("bar"), 5061);
  // Asked of a real redis-server 7.0: CLUSTER KEYSLOT apimeter:{m29400123.5}:max
  EXPECT_EQ(HashSlot("apimeter:{m29400123.5}:max"), 1924);
}

TEST(HashSlot, HashTagRules) {
  EXPECT_EQ(HashTagOf("{user1000}.following"), "user1000");
  EXPECT_EQ(HashSlot("{user1000}.following"), HashSlot("{user1000}.followers"));
  // Empty tag: the whole key is hashed.
  EXPECT_EQ(HashTagOf("foo{}{bar}"), "foo{}{bar}");
  // Only the first '{' and the first '}' after it count.
  EXPECT_EQ(HashTagOf("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(HashTagOf("foo{bar}{zap}"), "bar");
  EXPECT_EQ(HashTagOf("no tag"), "no tag");
  EXPECT_EQ(HashTagOf("open{only"), "open{only");
  for (const char* k : {"", "a", "{", "}", "{}", "x{y}z"}) {
    EXPECT_GE(HashSlot(k), 0);
    EXPECT_LT(HashSlot(k), kClusterSlots);
  }
}

TEST(HashSlot, SchemaKeysOfOneGroupShareASlot) {
  KeySchema s("apimeter");
  const int slot = HashSlot(s.MaxKey(Tier::kMinute, 29400123, 5));
  EXPECT_EQ(HashSlot(s.IndexKey(Tier::kMinute, 29400123, 5, IndexKind::kCustomers)), slot);
  EXPECT_EQ(HashSlot(s.BucketTag(Tier::kMinute, 29400123, 5) + ":c:acme"), slot);
  EXPECT_NE(HashSlot(s.MaxKey(Tier::kMinute, 29400123, 6)), slot);
  EXPECT_EQ(HashSlot(s.ClusterCheckpointKey("web-1", "abc")),
            HashSlot(s.HostTag("web-1") + ":j:1"));
}

TEST(CommandSlot, RoutesByFirstKey) {
  EXPECT_EQ(CommandSlot({"GET", "foo"}), 12182);
  EXPECT_EQ(CommandSlot({"hgetall", "foo"}), 12182);
  EXPECT_EQ(CommandSlot({"ZMSCORE", "{hash_tag}x", "a", "b"}), 2515);
  EXPECT_EQ(CommandSlot({"EVAL", "return 1", "2", "bar", "foo", "arg"}), 5061);
  EXPECT_EQ(CommandSlot({"EVALSHA", "abc", "1", "somekey"}), 11058);
  EXPECT_EQ(CommandSlot({"EVAL", "return 1", "0"}), -1);
  EXPECT_EQ(CommandSlot({"PING"}), -1);
  EXPECT_EQ(CommandSlot({"TIME"}), -1);
  EXPECT_EQ(CommandSlot({"CLUSTER", "SLOTS"}), -1);
  EXPECT_EQ(CommandSlot({"WAIT", "1", "100"}), -1);
  EXPECT_EQ(CommandSlot({}), -1);
}

TEST(ParseRedirect, MovedAndAsk) {
  struct Case {
    const char* error;
    bool ask;
    int slot;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"MOVED 3999 127.0.0.1:6381", false, 3999, "127.0.0.1", 6381},
                        Case{"ASK 12182 10.0.0.2:7002", true, 12182, "10.0.0.2", 7002}}) {
    auto r = ParseRedirect(c.error);
    ASSERT_TRUE(r.has_value()) << c.error;
    EXPECT_EQ(r->ask, c.ask);
    EXPECT_EQ(r->slot, c.slot);
    EXPECT_EQ(r->host, c.host);
    EXPECT_EQ(r->port, c.port);
  }
  // IPv6 hosts keep their colons.
  auto v6 = ParseRedirect("MOVED 1 ::1:7000");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseRedirect("ERR wrong number of arguments").has_value());
  EXPECT_FALSE(ParseRedirect("MOVED 99999 127.0.0.1:1").has_value());
  EXPECT_FALSE(ParseRedirect("MOVED x 127.0.0.1:1").has_value());
  EXPECT_FALSE(ParseRedirect("MOVED 1 127.0.0.1").has_value());
  EXPECT_FALSE(ParseRedirect("ASK 1 127.0.0.1:0").has_value());
}

TEST(TransientErrors, Classified) {
  EXPECT_TRUE(IsTransientClusterError("TRYAGAIN Multiple keys request during rehashing of slot"));
  EXPECT_TRUE(IsTransientClusterError("CLUSTERDOWN The cluster is down"));
  EXPECT_TRUE(IsTransientClusterError("LOADING Redis is loading the dataset in memory"));
  EXPECT_FALSE(IsTransientClusterError("WRONGTYPE Operation against a key"));
  EXPECT_FALSE(IsTransientClusterError("MOVED 1 127.0.0.1:7000"));
}

RedisReply Int(int64_t v) {
  RedisReply r;
  r.type = RedisReply::Type::kInteger;
  r.integer = v;
  return r;
}
RedisReply Str(std::string s) {
  RedisReply r;
  r.type = RedisReply::Type::kString;
  r.str = std::move(s);
  return r;
}
RedisReply Arr(std::vector<RedisReply> e) {
  RedisReply r;
  r.type = RedisReply::Type::kArray;
  r.elements = std::move(e);
  return r;
}

TEST(ParseClusterSlots, MastersAndReplicaCounts) {
  RedisReply reply = Arr({
      Arr({Int(0), Int(5460), Arr({Str("127.0.0.1"), Int(7000), Str("id0")}),
           Arr({Str("127.0.0.1"), Int(7004), Str("id4")})}),
      Arr({Int(5461), Int(16383), Arr({Str(""), Int(7001), Str("id1")})}),
  });
  auto r = ParseClusterSlots(reply, "10.1.1.1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].start, 0);
  EXPECT_EQ((*r)[0].end, 5460);
  EXPECT_EQ((*r)[0].port, 7000);
  EXPECT_EQ((*r)[0].replicas, 1);
  EXPECT_EQ((*r)[1].host, "10.1.1.1");  // empty host: the node that answered
  EXPECT_EQ((*r)[1].replicas, 0);
  EXPECT_FALSE(
      ParseClusterSlots(Arr({Arr({Int(0), Int(99999), Arr({Str("h"), Int(1)})})}), "h").ok());
  EXPECT_FALSE(ParseClusterSlots(Arr({Arr({Int(0)})}), "h").ok());
  EXPECT_FALSE(ParseClusterSlots(Str("x"), "h").ok());
}

TEST(ClusterClientOptions, WaitAnswersBeforeTheSocketTimesOut) {
  ClusterOptions o;
  o.node.command_timeout = std::chrono::milliseconds(1000);
  o.wait_timeout = std::chrono::milliseconds(2000);
  EXPECT_EQ(ClusterClient(o).wait_timeout(), std::chrono::milliseconds(500));
  o.node.command_timeout = std::chrono::milliseconds(5000);
  EXPECT_EQ(ClusterClient(o).wait_timeout(), std::chrono::milliseconds(2000));
}

TEST(SplitHostPort, Bounds) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:7000", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7000);
  EXPECT_FALSE(SplitHostPort("127.0.0.1", &host, &port));
  EXPECT_FALSE(SplitHostPort(":7000", &host, &port));
  EXPECT_FALSE(SplitHostPort("h:70000", &host, &port));
}

TEST(Journal, RoundTripsBinaryArguments) {
  const RedisArgs cmd{"EVAL", std::string("a\0b\n1:2", 7), "0", "", "x:y"};
  auto back = DecodeJournalCommand(EncodeJournalCommand(cmd));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, cmd);
  EXPECT_FALSE(DecodeJournalCommand("").ok());
  EXPECT_FALSE(DecodeJournalCommand("2\n3:abc").ok());
  EXPECT_FALSE(DecodeJournalCommand("1\n3:abcd").ok());
  EXPECT_FALSE(DecodeJournalCommand("1\n9:abc").ok());
}

TEST(Guard, MarkerSharesTheSlotAndWrapsTheScript) {
  const std::string max = "P:{m29400123.5}:max";
  const std::string marker = MarkerKey(max);
  EXPECT_EQ(marker, "P:{m29400123.5}:done");
  EXPECT_EQ(HashSlot(marker), HashSlot(max));
  EXPECT_EQ(MarkerKey("untagged"), "untagged:done");
  const RedisArgs eval{"EVAL", "return 1", "2", max, "P:{m29400123.5}:all", "a1", "a2"};
  const RedisArgs g = GuardEval(eval, marker, "w1", 42);
  ASSERT_EQ(g.size(), eval.size() + 3);
  EXPECT_EQ(g[2], "3");
  EXPECT_EQ(g[3], max);
  EXPECT_EQ(g[5], marker);  // last key
  EXPECT_EQ(g[6], "a1");
  EXPECT_EQ(g[g.size() - 2], "w1");
  EXPECT_EQ(g.back(), "42");
  EXPECT_NE(g[1].find("return 1"), std::string::npos);
  EXPECT_EQ(CommandSlot(g), HashSlot(max));
}

}  // namespace
}  // namespace apimeter

// The storage-v2 write path on the shapes users have, against a real
// redis-server: one huge flush and many small ones of the same realistic
// traffic store the same sums; a live flush costs one Redis command per
// group (counted by the server, INFO commandstats). Prints commands per line.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "sink/block_reader.h"
#include "sink/block_sink.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::Normalize;
using sink_internal::FloorDiv;
using testing::TestRedis;
using testing::Traffic;

// cmdstat_<name> -> calls, from INFO commandstats.
std::map<std::string, uint64_t> CommandCalls(RedisClient& c) {
  std::map<std::string, uint64_t> out;
  auto info = c.Command({"INFO", "commandstats"});
  EXPECT_TRUE(info.ok() && !info->is_error());
  if (!info.ok()) return out;
  size_t pos = 0;
  const std::string& s = info->str;
  while ((pos = s.find("cmdstat_", pos)) != std::string::npos) {
    const size_t colon = s.find(':', pos);
    const size_t calls = s.find("calls=", colon);
    out[s.substr(pos + 8, colon - pos - 8)] = std::stoull(s.substr(calls + 6));
    pos = colon;
  }
  return out;
}

uint64_t Total(const std::map<std::string, uint64_t>& calls) {
  uint64_t n = 0;
  for (const auto& [name, c] : calls) n += c;
  return n;
}

class BlockStoreCostTest : public ::testing::Test {
 protected:
  BlockStoreCostTest() : redis_(TestRedis::Private()), admin_(redis_.endpoint()) {}

  struct Writer {
    explicit Writer(TestRedis& redis, const BlockKeys& keys)
        : client(redis.endpoint()),
          protocol(&client, keys),
          sink(&client, &protocol, keys, SinkOptions{}, &clock) {}
    SystemClock clock;
    RedisClient client;
    StandaloneFlush protocol;
    BlockSink sink;
  };

  // Flushes lines [first, last) of `t` as one batch.
  void FlushLines(const Traffic& t, size_t first, size_t last, const std::string& id, Writer& w) {
    AggregatorOptions ao;
    ao.host = "web1";
    Aggregator agg(ao);
    t.Feed(first, last, &agg);
    FlushBatch b = agg.TakeBatch();
    b.id = id;
    b.host = "web1";
    const Status st = w.sink.Flush(b);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  TestRedis& redis_;
  RedisClient admin_;
};

TEST_F(BlockStoreCostTest, OneHugeFlushAndManySmallOnesStoreTheSameSums) {
  const int64_t now = SystemClock().NowSeconds();
  const Traffic t = Traffic::Make(7, 60000, now - 3 * 3600, now - 300, 100, 2000);
  const BlockKeys huge_keys(redis_.UniquePrefix("huge")), small_keys(redis_.UniquePrefix("small"));
  Writer huge(redis_, huge_keys), small(redis_, small_keys);

  ASSERT_TRUE(admin_.Command({"CONFIG", "RESETSTAT"}).ok());
  FlushLines(t, 0, t.lines.size(), "huge", huge);
  const uint64_t server_calls = Total(CommandCalls(admin_));
  for (size_t first = 0, n = 0; first < t.lines.size(); first += 600, ++n) {
    FlushLines(t, first, std::min(t.lines.size(), first + 600), "small" + std::to_string(n),
               small);
    if (HasFatalFailure()) return;
  }
  std::printf(
      "huge flush of %zu lines: %lu blocks, %lu bytes, %lu client commands (%.5f per line), "
      "%lu server calls incl. script-inner (%.5f per line)\n",
      t.lines.size(), static_cast<unsigned long>(huge.sink.stats().blocks),
      static_cast<unsigned long>(huge.sink.stats().block_bytes),
      static_cast<unsigned long>(huge.sink.stats().commands),
      huge.sink.stats().commands / double(t.lines.size()),
      static_cast<unsigned long>(server_calls), server_calls / double(t.lines.size()));
  std::printf("100 small flushes: %lu blocks, %lu bytes, %lu client commands (%.5f per line)\n",
              static_cast<unsigned long>(small.sink.stats().blocks),
              static_cast<unsigned long>(small.sink.stats().block_bytes),
              static_cast<unsigned long>(small.sink.stats().commands),
              small.sink.stats().commands / double(t.lines.size()));

  std::set<std::pair<Tier, int64_t>> buckets;
  uint64_t good_lines = 0;
  for (const auto& l : t.lines) {
    good_lines += l.rejected ? 0 : 1;
    const int64_t s = FloorDiv(l.time_us, kMicrosPerSecond);
    for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      buckets.insert({tier, FloorDiv(s, TierSeconds(tier))});
    }
  }
  uint64_t minute_requests = 0;
  RedisClient reader(redis_.endpoint());
  NameDictionaries huge_names, small_names;
  for (const auto& [tier, bucket] : buckets) {
    auto a = ReadBucketSeries(reader, huge_keys, tier, bucket, &huge_names);
    auto b = ReadBucketSeries(reader, small_keys, tier, bucket, &small_names);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_EQ(a->size(), b->size());
    for (auto ia = a->begin(), ib = b->begin(); ia != a->end(); ++ia, ++ib) {
      ASSERT_EQ(ia->first, ib->first);
      ASSERT_EQ(Normalize(ia->second), Normalize(ib->second)) << ia->first.name;
    }
    if (tier == Tier::kMinute) minute_requests += a->at({SeriesKind::kAll, ""}).requests;
  }
  EXPECT_EQ(minute_requests, good_lines);
}

TEST_F(BlockStoreCostTest, ALiveFlushCostsTwoCommandsPerGroup) {
  // A live agent at 20K lines/s flushing every 2 s: 40K lines per flush.
  const int64_t start = SystemClock().NowSeconds() / 60 * 60 - 600;
  const Traffic t = Traffic::Make(11, 80000, start, start + 4, 200, 5000);
  const BlockKeys keys(redis_.UniquePrefix("live"));
  Writer w(redis_, keys);
  FlushLines(t, 0, 40000, "first", w);  // creates the lists, numbers most names

  const auto before = w.sink.stats();
  const auto registry_before = w.sink.registry_stats().calls;
  ASSERT_TRUE(admin_.Command({"CONFIG", "RESETSTAT"}).ok());
  FlushLines(t, 40000, 80000, "second", w);
  auto calls = CommandCalls(admin_);
  std::erase_if(calls, [](const auto& c) { return c.first.starts_with("config") || c.first == "info"; });
  const uint64_t blocks = w.sink.stats().blocks - before.blocks;
  const uint64_t client = w.sink.stats().commands - before.commands;
  const uint64_t registry = w.sink.registry_stats().calls - registry_before;
  // One RPUSH and one EXPIREAT per group, no script, plus the few registry
  // calls for names this flush saw first.
  EXPECT_EQ(calls["rpush"], blocks);
  EXPECT_EQ(calls["eval"], registry);
  EXPECT_GE(calls["expireat"], blocks);
  uint64_t other = Total(calls) - calls["rpush"] - calls["eval"] - blocks;  // one expireat each
  // The registry scripts' own reads and writes: HLEN, HGET, HMGET and at
  // most two HSETs per call (and EXPIREAT x 2 when a call creates a day's keys).
  EXPECT_LE(calls["hget"] + calls["hset"] + calls["hlen"] + calls["hmget"], 5 * registry);
  other -= calls["hget"] + calls["hset"] + calls["hlen"] + calls["hmget"];
  // watch, exists, mget, multi, exec, set x 2, zadd, zremrangebyrank, expireat.
  std::string listed;
  for (const auto& [name, n] : calls) listed += " " + name + "=" + std::to_string(n);
  EXPECT_LE(other, 10u + 2 * registry) << "commands beyond one per group:" << listed;
  std::printf(
      "live flush of 40000 lines: %lu groups, %lu client commands (%.5f per line); server: %lu "
      "calls incl. script-inner (%.5f per line)\n",
      static_cast<unsigned long>(blocks), static_cast<unsigned long>(client), client / 40000.0,
      static_cast<unsigned long>(Total(calls)), Total(calls) / 40000.0);
}

}  // namespace
}  // namespace apimeter

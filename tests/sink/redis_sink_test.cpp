// RedisSink against a real redis-server: the schema as written, merging,
// retention, admission, checkpoint CAS, idempotent retries and EXEC errors.
#include "sink/redis_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "common/time_util.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::TestRedis;

// Redis expires keys by its own clock, so the data must be recent: kT0 is a
// minute ten minutes before the real time, and the sink's clock says "now".
const int64_t kT0 = (SystemClock().NowSeconds() / 60) * 60 - 600;
const int64_t kNowUs = (kT0 + 600) * kMicrosPerSecond;

Rollup MakeRollup(std::initializer_list<std::pair<int, int64_t>> status_latency,
                  uint64_t bytes_out = 100) {
  Rollup r;
  for (auto [status, latency] : status_latency) r.AddRequest(status, 10, bytes_out, latency);
  return r;
}

SeriesDelta Delta(Tier tier, int64_t t, SeriesKind kind, std::string name, Rollup r) {
  SeriesDelta d;
  d.tier = tier;
  d.bucket = t / TierSeconds(tier);
  d.kind = kind;
  d.name = std::move(name);
  d.rollup = std::move(r);
  return d;
}

class RedisSinkTest : public ::testing::Test {
 protected:
  RedisSinkTest()
      : redis_(TestRedis::Private()),
        schema_(redis_.UniquePrefix("sink")),
        client_(redis_.endpoint()),
        reader_(redis_.endpoint()),
        clock_(kNowUs) {}

  RedisSink MakeSink(SinkOptions o = {}) { return RedisSink(&client_, schema_, o, &clock_); }

  RedisReply Run(const RedisArgs& args) {
    auto r = reader_.Command(args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RedisReply{};
  }

  Rollup ReadSeries(Tier tier, int64_t t, SeriesKind kind, const std::string& name) {
    Rollup out;
    const RedisReply all =
        Run({"HGETALL", schema_.SeriesKey(tier, t / TierSeconds(tier), kind, name)});
    EXPECT_TRUE(DecodeRollupFields(all, &out).ok());
    return out;
  }

  std::vector<std::pair<std::string, std::string>> ZRange(const std::string& key) {
    RedisReply r = Run({"ZRANGE", key, "0", "-1", "WITHSCORES"});
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      out.emplace_back(r.elements[i].str, r.elements[i + 1].str);
    }
    return out;
  }

  int64_t ExpireTime(const std::string& key) { return Run({"EXPIRETIME", key}).integer; }

  int64_t CountKeys() {
    return static_cast<int64_t>(Run({"KEYS", schema_.prefix() + ":*"}).elements.size());
  }

  TestRedis& redis_;
  KeySchema schema_;
  RedisClient client_;
  RedisClient reader_;
  ManualClock clock_;
};

void ExpectSameRollup(const Rollup& want, const Rollup& got) {
  EXPECT_EQ(got.requests, want.requests);
  EXPECT_EQ(got.bytes_in, want.bytes_in);
  EXPECT_EQ(got.bytes_out, want.bytes_out);
  EXPECT_EQ(got.latency_count, want.latency_count);
  EXPECT_EQ(got.latency_sum_us, want.latency_sum_us);
  EXPECT_EQ(got.rejected, want.rejected);
  auto sorted = [](std::vector<std::pair<int, uint64_t>> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(got.status_counts), sorted(want.status_counts));
  std::vector<std::pair<int, uint64_t>> hw, hg;
  want.histogram.ForEachBucket([&](int i, uint64_t n) { hw.emplace_back(i, n); });
  got.histogram.ForEachBucket([&](int i, uint64_t n) { hg.emplace_back(i, n); });
  EXPECT_EQ(hg, hw);
}

TEST_F(RedisSinkTest, WritesEverySeriesIndexAndExpiryAsTheSchemaSays) {
  RedisSink sink = MakeSink();
  const std::string ep = "GET /v1/orders/:id";
  const std::string cust = "acme";
  const Rollup r = MakeRollup({{200, 1500}, {200, 2500}, {404, 900}}, 300);
  FlushBatch b;
  b.host = "web1";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", r));
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kHost, "web1", r));
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kEndpoint, ep, r));
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kCustomer, cust, r));
  b.series.push_back(
      Delta(Tier::kMinute, kT0, SeriesKind::kCustomerEndpoint, cust + kNameSeparator + ep, r));
  b.series.push_back(Delta(Tier::kHour, kT0, SeriesKind::kEndpoint, ep, r));
  b.series.push_back(Delta(Tier::kDay, kT0, SeriesKind::kEndpoint, ep, r));
  b.slow.push_back({kT0 * kMicrosPerSecond + 5, 2500, 200, "web1", ep, cust});
  ASSERT_TRUE(sink.Flush(b).ok());

  const int64_t m = kT0 / 60, h = kT0 / 3600, d = kT0 / 86400;
  for (auto [kind, name] : std::vector<std::pair<SeriesKind, std::string>>{
           {SeriesKind::kAll, ""},
           {SeriesKind::kHost, "web1"},
           {SeriesKind::kEndpoint, ep},
           {SeriesKind::kCustomer, cust},
           {SeriesKind::kCustomerEndpoint, cust + kNameSeparator + ep}}) {
    SCOPED_TRACE(KeySchema::MemberId(kind, name));
    ExpectSameRollup(r, ReadSeries(Tier::kMinute, kT0, kind, name));
    const std::string key = schema_.SeriesKey(Tier::kMinute, m, kind, name);
    EXPECT_EQ(ExpireTime(key), (m + 1) * 60 + 48 * 3600);
    const int shard = KeySchema::ShardOf(kind, name);
    auto max = ZRange(schema_.MaxKey(Tier::kMinute, m, shard));
    auto it = std::find_if(max.begin(), max.end(),
                           [&](auto& p) { return p.first == KeySchema::MemberId(kind, name); });
    ASSERT_NE(it, max.end());
    EXPECT_EQ(it->second, "2500");
  }
  ExpectSameRollup(r, ReadSeries(Tier::kHour, kT0, SeriesKind::kEndpoint, ep));
  ExpectSameRollup(r, ReadSeries(Tier::kDay, kT0, SeriesKind::kEndpoint, ep));
  EXPECT_EQ(ExpireTime(schema_.SeriesKey(Tier::kHour, h, SeriesKind::kEndpoint, ep)),
            (h + 1) * 3600 + 35 * 86400);
  EXPECT_EQ(ExpireTime(schema_.SeriesKey(Tier::kDay, d, SeriesKind::kEndpoint, ep)),
            (d + 1) * 86400 + 400 * 86400);

  using P = std::pair<std::string, std::string>;
  const int es = KeySchema::ShardOfEntity(ep), cs = KeySchema::ShardOfEntity(cust),
            hs = KeySchema::ShardOfEntity("web1");
  EXPECT_EQ(ZRange(schema_.IndexKey(Tier::kMinute, m, es, IndexKind::kEndpoints)),
            (std::vector<P>{{ep, "3"}}));
  EXPECT_EQ(ZRange(schema_.IndexKey(Tier::kMinute, m, cs, IndexKind::kCustomers)),
            (std::vector<P>{{cust, "3"}}));
  EXPECT_EQ(ZRange(schema_.IndexKey(Tier::kMinute, m, cs, IndexKind::kCustomerBytesOut)),
            (std::vector<P>{{cust, "900"}}));
  EXPECT_EQ(ZRange(schema_.IndexKey(Tier::kMinute, m, hs, IndexKind::kHosts)),
            (std::vector<P>{{"web1", "3"}}));
  const std::string ice = schema_.CustomerEndpointIndexKey(Tier::kMinute, m, cust);
  EXPECT_EQ(ZRange(ice), (std::vector<P>{{ep, "3"}}));
  EXPECT_EQ(ExpireTime(ice), (m + 1) * 60 + 48 * 3600);
  EXPECT_EQ(ExpireTime(schema_.IndexKey(Tier::kMinute, m, es, IndexKind::kEndpoints)),
            (m + 1) * 60 + 48 * 3600);

  auto slow = ZRange(schema_.SlowKey(d));
  ASSERT_EQ(slow.size(), 1u);
  SlowRequest back;
  ASSERT_TRUE(DecodeSlowMember(slow[0].first, 2500, &back));
  EXPECT_EQ(back.endpoint, ep);
  EXPECT_EQ(back.customer, cust);
  EXPECT_EQ(back.time_us, kT0 * kMicrosPerSecond + 5);
  EXPECT_EQ(ExpireTime(schema_.SlowKey(d)), (d + 1) * 86400 + 400 * 86400);
  EXPECT_EQ(ExpireTime(schema_.RegistryKey(d, 'e')), (d + 1) * 86400 + 400 * 86400);
  EXPECT_EQ(sink.stats().flushes, 1u);
  EXPECT_GT(sink.stats().commands, 0u);
}

TEST_F(RedisSinkTest, TwoHostsMergeByAdditionIncludingHistogramsAndMax) {
  RedisSink a = MakeSink(), b = MakeSink();
  const Rollup ra = MakeRollup({{200, 100}, {500, 70000}});
  const Rollup rb = MakeRollup({{200, 100}, {200, 5}, {201, 0}});
  FlushBatch ba, bb;
  ba.host = "a";
  bb.host = "b";
  ba.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", ra));
  bb.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", rb));
  ASSERT_TRUE(a.Flush(ba).ok());
  ASSERT_TRUE(b.Flush(bb).ok());
  Rollup want = ra;
  want.Merge(rb);
  ExpectSameRollup(want, ReadSeries(Tier::kMinute, kT0, SeriesKind::kAll, ""));
  EXPECT_EQ(want.requests, 5u);
  auto max = ZRange(schema_.MaxKey(Tier::kMinute, kT0 / 60, KeySchema::ShardOfEntity("all")));
  ASSERT_EQ(max.size(), 1u);
  EXPECT_EQ(max[0].second, "70000");  // ZADD GT keeps the larger of the two
}

// Storage v1 keeps no client series (issue 18 part 2 is v2 only): a batch
// holding them flushes, writes its other series, and no key for them.
TEST_F(RedisSinkTest, ClientKindsAreLeftOutWithoutFailing) {
  RedisSink sink = MakeSink();
  const Rollup r = MakeRollup({{200, 10}});
  FlushBatch b;
  b.host = "web1";
  b.series.push_back(Delta(Tier::kDay, kT0, SeriesKind::kAll, "", r));
  b.series.push_back(Delta(Tier::kDay, kT0, SeriesKind::kClient, "curl/8", r));
  b.series.push_back(Delta(Tier::kDay, kT0, SeriesKind::kClientEndpoint,
                           std::string("curl/8") + kNameSeparator + "GET /a", r));
  b.series.push_back(Delta(Tier::kDay, kT0, SeriesKind::kCustomerClient,
                           std::string("acme") + kNameSeparator + "curl/8", r));
  const int64_t before = CountKeys();
  ASSERT_TRUE(sink.Flush(b).ok());
  EXPECT_EQ(ReadSeries(Tier::kDay, kT0, SeriesKind::kAll, "").requests, 1u);
  for (const RedisReply& k : Run({"KEYS", schema_.prefix() + ":*"}).elements) {
    EXPECT_EQ(k.str.find("curl"), std::string::npos) << k.str;
  }
  EXPECT_GT(CountKeys(), before);
}

TEST_F(RedisSinkTest, DropsBucketsPastTheirTiersRetention) {
  SinkOptions o;
  o.minute_retention_s = 3600;
  o.hour_retention_s = 2 * 86400;
  RedisSink sink = MakeSink(o);
  const int64_t old = kT0 - 3 * 86400;  // too old for minute and hour, fine for day
  const Rollup r = MakeRollup({{200, 10}});
  FlushBatch b;
  b.host = "web1";
  b.series.push_back(Delta(Tier::kMinute, old, SeriesKind::kAll, "", r));
  b.series.push_back(Delta(Tier::kHour, old, SeriesKind::kAll, "", r));
  b.series.push_back(Delta(Tier::kDay, old, SeriesKind::kAll, "", r));
  // Exactly at the boundary: bucket end + retention == now is dropped.
  const int64_t boundary_bucket = (clock_.NowSeconds() - o.minute_retention_s) / 60 - 1;
  b.series.push_back(Delta(Tier::kMinute, boundary_bucket * 60, SeriesKind::kAll, "", r));
  b.series.push_back(Delta(Tier::kMinute, (boundary_bucket + 1) * 60, SeriesKind::kAll, "", r));
  ASSERT_TRUE(sink.Flush(b).ok());
  EXPECT_EQ(sink.stats().dropped_expired_deltas, 3u);
  EXPECT_EQ(ReadSeries(Tier::kMinute, old, SeriesKind::kAll, "").requests, 0u);
  EXPECT_EQ(ReadSeries(Tier::kHour, old, SeriesKind::kAll, "").requests, 0u);
  EXPECT_EQ(ReadSeries(Tier::kDay, old, SeriesKind::kAll, "").requests, 1u);
  EXPECT_EQ(ReadSeries(Tier::kMinute, boundary_bucket * 60, SeriesKind::kAll, "").requests, 0u);
  EXPECT_EQ(ReadSeries(Tier::kMinute, (boundary_bucket + 1) * 60, SeriesKind::kAll, "").requests,
            1u);
}

TEST_F(RedisSinkTest, AdmissionLimitsEndpointsAndAgreesAcrossHosts) {
  SinkOptions o;
  o.endpoints_per_day = 3;
  o.customers_per_day = 2;
  RedisSink host1 = MakeSink(o);
  RedisClient client2(redis_.endpoint());
  RedisSink host2(&client2, schema_, o, &clock_);
  auto batch_with = [&](const std::string& host, int first, int count) {
    FlushBatch b;
    b.host = host;
    for (int i = first; i < first + count; ++i) {
      const std::string ep = "GET /p" + std::to_string(i);
      b.series.push_back(
          Delta(Tier::kMinute, kT0, SeriesKind::kEndpoint, ep, MakeRollup({{200, 10 + i}})));
      b.series.push_back(
          Delta(Tier::kDay, kT0, SeriesKind::kEndpoint, ep, MakeRollup({{200, 10 + i}})));
    }
    return b;
  };
  ASSERT_TRUE(host1.Flush(batch_with("h1", 0, 10)).ok());
  ASSERT_TRUE(host2.Flush(batch_with("h2", 0, 10)).ok());
  const int64_t d = kT0 / 86400;
  RedisReply members = Run({"SMEMBERS", schema_.RegistryKey(d, 'e')});
  ASSERT_EQ(members.elements.size(), 3u);
  uint64_t admitted_total = 0;
  for (const RedisReply& m : members.elements) {
    const Rollup r = ReadSeries(Tier::kMinute, kT0, SeriesKind::kEndpoint, m.str);
    EXPECT_EQ(r.requests, 2u) << m.str;  // one from each host: both admitted the same names
    admitted_total += r.requests;
    EXPECT_EQ(ReadSeries(Tier::kDay, kT0, SeriesKind::kEndpoint, m.str).requests, 2u);
  }
  const Rollup other = ReadSeries(Tier::kMinute, kT0, SeriesKind::kEndpoint, "other");
  EXPECT_EQ(other.requests, 14u);  // 7 names x 2 hosts, merged into one series
  EXPECT_EQ(other.latency_count, 14u);
  EXPECT_EQ(admitted_total + other.requests, 20u);
  EXPECT_EQ(host1.stats().other_endpoints, 7u);
  EXPECT_EQ(host2.stats().other_endpoints, 7u);
  // The endpoint index points at "other" with the merged count.
  auto ie = ZRange(schema_.IndexKey(Tier::kMinute, kT0 / 60, KeySchema::ShardOfEntity("other"),
                                    IndexKind::kEndpoints));
  auto it = std::find_if(ie.begin(), ie.end(), [](auto& p) { return p.first == "other"; });
  ASSERT_NE(it, ie.end());
  EXPECT_EQ(it->second, "14");
}

TEST_F(RedisSinkTest, AdmissionRewritesCustomerEndpointNamesAndSlowEntries) {
  SinkOptions o;
  o.endpoints_per_day = 1;
  o.customers_per_day = 1;
  RedisSink sink = MakeSink(o);
  FlushBatch b;
  b.host = "h";
  const Rollup r = MakeRollup({{200, 10}});
  for (const char* c : {"c1", "c2", "anonymous"}) {
    b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kCustomer, c, r));
    for (const char* e : {"GET /a", "GET /b"}) {
      b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kCustomerEndpoint,
                               std::string(c) + kNameSeparator + e, r));
      b.slow.push_back({kT0 * kMicrosPerSecond, 10, 200, "h", e, c});
    }
  }
  ASSERT_TRUE(sink.Flush(b).ok());
  // Names are asked in sorted order, so "c1" and "GET /a" take the one slot each.
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0, SeriesKind::kCustomer, "c1").requests, 1u);
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0, SeriesKind::kCustomer, "other").requests, 1u);
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0, SeriesKind::kCustomer, "anonymous").requests, 1u);
  const char sep = kNameSeparator;
  auto ce = [&](std::string c, std::string e) {
    return ReadSeries(Tier::kMinute, kT0, SeriesKind::kCustomerEndpoint, c + sep + e).requests;
  };
  EXPECT_EQ(ce("c1", "GET /a"), 1u);
  EXPECT_EQ(ce("c1", "other"), 1u);
  EXPECT_EQ(ce("other", "GET /a"), 1u);
  EXPECT_EQ(ce("other", "other"), 1u);
  EXPECT_EQ(ce("anonymous", "GET /a"), 1u);
  EXPECT_EQ(ce("anonymous", "other"), 1u);
  EXPECT_EQ(ce("c2", "GET /a"), 0u);
  EXPECT_EQ(Run({"SCARD", schema_.RegistryKey(kT0 / 86400, 'c')}).integer, 1);
  for (const auto& [member, score] : ZRange(schema_.SlowKey(kT0 / 86400))) {
    SlowRequest s;
    ASSERT_TRUE(DecodeSlowMember(member, 10, &s));
    EXPECT_TRUE(s.customer == "c1" || s.customer == "other" || s.customer == "anonymous");
    EXPECT_TRUE(s.endpoint == "GET /a" || s.endpoint == "other");
  }
}

TEST_F(RedisSinkTest, SlowSetKeepsTopN) {
  SinkOptions o;
  o.slow_top_n = 3;
  RedisSink sink = MakeSink(o);
  FlushBatch b;
  b.host = "h";
  for (int i = 1; i <= 10; ++i) {
    b.slow.push_back({kT0 * kMicrosPerSecond + i, i * 1000, 200, "h", "GET /x", "c"});
  }
  ASSERT_TRUE(sink.Flush(b).ok());
  auto slow = ZRange(schema_.SlowKey(kT0 / 86400));
  ASSERT_EQ(slow.size(), 3u);
  EXPECT_EQ(slow[0].second, "8000");
  EXPECT_EQ(slow[2].second, "10000");
}

TEST_F(RedisSinkTest, CheckpointCommitsWithDataAndMismatchAbortsWithNothingWritten) {
  RedisSink sink = MakeSink();
  EXPECT_EQ(*sink.ReadCheckpoint("web1", "abc"), "");
  FlushBatch b;
  b.host = "web1";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", MakeRollup({{200, 1}})));
  b.checkpoints.push_back({"abc", "", "0-100"});
  ASSERT_TRUE(sink.Flush(b).ok());
  EXPECT_EQ(*sink.ReadCheckpoint("web1", "abc"), "0-100");
  const int64_t ttl = Run({"TTL", schema_.CheckpointKey("web1", "abc")}).integer;
  EXPECT_GT(ttl, 399 * 86400);
  EXPECT_LE(ttl, 400 * 86400);

  // Another writer still believes the file is at "" : aborted, nothing written.
  const int64_t keys_before = CountKeys();
  FlushBatch stale;
  stale.host = "web1";
  stale.series.push_back(
      Delta(Tier::kMinute, kT0 + 60, SeriesKind::kAll, "", MakeRollup({{200, 1}})));
  stale.checkpoints.push_back({"abc", "", "0-200"});
  Status st = sink.Flush(stale);
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
  EXPECT_NE(st.message().find("0-100"), std::string::npos);
  EXPECT_EQ(*sink.ReadCheckpoint("web1", "abc"), "0-100");
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0 + 60, SeriesKind::kAll, "").requests, 0u);
  EXPECT_EQ(CountKeys(), keys_before);
  EXPECT_EQ(sink.stats().failures, 1u);

  // With the right expectation it goes through.
  stale.checkpoints[0].expected = "0-100";
  ASSERT_TRUE(sink.Flush(stale).ok());
  EXPECT_EQ(*sink.ReadCheckpoint("web1", "abc"), "0-200");
}

TEST_F(RedisSinkTest, DuplicateCheckpointIsInvalid) {
  RedisSink sink = MakeSink();
  FlushBatch b;
  b.host = "h";
  b.checkpoints.push_back({"f", "", "0-1"});
  b.checkpoints.push_back({"f", "", "0-2"});
  EXPECT_EQ(sink.Flush(b).code(), StatusCode::kInvalidArgument);
  FlushBatch bad;
  bad.series.push_back(
      Delta(Tier::kMinute, kT0, SeriesKind::kCustomerEndpoint, "nosep", MakeRollup({{200, 1}})));
  EXPECT_EQ(sink.Flush(bad).code(), StatusCode::kInvalidArgument);
}

TEST_F(RedisSinkTest, SameBatchFlushedTwiceIsCountedOnce) {
  RedisSink sink = MakeSink();
  FlushBatch b;
  b.id = "batch-0001";
  b.host = "web1";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", MakeRollup({{200, 1}})));
  b.checkpoints.push_back({"f1", "", "0-10"});
  ASSERT_TRUE(sink.Flush(b).ok());
  // The reply of the first EXEC was "lost": the writer sends it again,
  // although the checkpoint has moved past `expected` meanwhile.
  Status again = sink.Flush(b);
  ASSERT_TRUE(again.ok()) << again.ToString();
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0, SeriesKind::kAll, "").requests, 1u);
  EXPECT_EQ(sink.stats().already_applied, 1u);
  EXPECT_GT(Run({"TTL", schema_.prefix() + ":flush:batch-0001"}).integer, 0);
}

// Restarts the server while "sleeping": the first attempt fails because
// Redis is down, the retry lands after the restart.
class RestartingSleeper : public Sleeper {
 public:
  explicit RestartingSleeper(std::function<void()> on_sleep) : on_sleep_(std::move(on_sleep)) {}
  void SleepFor(std::chrono::milliseconds d) override {
    delays.push_back(d);
    if (on_sleep_) on_sleep_();
  }
  std::vector<std::chrono::milliseconds> delays;

 private:
  std::function<void()> on_sleep_;
};

TEST_F(RedisSinkTest, RedisDownDuringRetryDeliversExactlyOnce) {
  RedisSink sink = MakeSink();
  FlushBatch b;  // no id: the sink remembers its token across failed attempts
  b.host = "web1";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", MakeRollup({{200, 7}})));
  b.checkpoints.push_back({"f2", "", "0-50"});
  ASSERT_TRUE(client_.Connect().ok());
  redis_.Stop();
  int sleeps = 0;
  RestartingSleeper sleeper([&] {
    if (++sleeps == 2) redis_.Start();
  });
  RetryPolicy policy{0, std::chrono::milliseconds(100), std::chrono::milliseconds(150)};
  Status st = FlushWithRetry(sink, b, policy, sleeper);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(sleeper.delays.size(), 2u);
  EXPECT_EQ(sleeper.delays[0].count(), 100);
  EXPECT_EQ(sleeper.delays[1].count(), 150);  // doubled, capped at max
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0, SeriesKind::kAll, "").requests, 1u);
  EXPECT_EQ(*sink.ReadCheckpoint("web1", "f2"), "0-50");
  EXPECT_EQ(sink.stats().failures, 2u);
  EXPECT_EQ(sink.stats().flushes, 1u);
}

TEST_F(RedisSinkTest, RetryWithoutIdAfterConnectionFailureIsCountedOnce) {
  RedisSink sink = MakeSink();
  FlushBatch b;
  b.host = "web1";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", MakeRollup({{200, 7}})));
  b.checkpoints.push_back({"f3", "", "0-5"});
  redis_.Stop();
  EXPECT_EQ(sink.Flush(b).code(), StatusCode::kUnavailable);
  redis_.Start();
  ASSERT_TRUE(sink.Flush(b).ok());
  // Same content flushed again while the sink still remembers the token
  // would be "already applied"; after an OK the token is forgotten, so a
  // second identical batch is a new flush and its checkpoint CAS stops it.
  EXPECT_EQ(sink.Flush(b).code(), StatusCode::kAborted);
  EXPECT_EQ(ReadSeries(Tier::kMinute, kT0, SeriesKind::kAll, "").requests, 1u);
}

TEST_F(RedisSinkTest, ExecReplyLostOnTheWireIsCountedOnce) {
  // A client with a 1 ms command timeout gives up while Redis is still
  // executing a large EXEC (or before it arrived): the outcome is unknown.
  RedisEndpoint hasty = redis_.endpoint();
  hasty.command_timeout = std::chrono::milliseconds(1);
  RedisClient hasty_client(hasty);
  RedisSink first(&hasty_client, schema_, SinkOptions{}, &clock_);
  FlushBatch b;
  b.id = "lost-reply-1";
  b.host = "web1";
  for (int i = 0; i < 3000; ++i) {
    b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kHost, "host" + std::to_string(i),
                             MakeRollup({{200, i}})));
  }
  b.checkpoints.push_back({"f4", "", "0-3000"});
  Status st1 = first.Flush(b);
  // Whatever happened, a second writer sending the same batch adds it at most once more.
  RedisSink second = MakeSink();
  Status st2 = second.Flush(b);
  ASSERT_TRUE(st2.ok()) << st1.ToString() << " / " << st2.ToString();
  for (int i : {0, 1234, 2999}) {
    EXPECT_EQ(
        ReadSeries(Tier::kMinute, kT0, SeriesKind::kHost, "host" + std::to_string(i)).requests, 1u);
  }
  EXPECT_EQ(*second.ReadCheckpoint("web1", "f4"), "0-3000");
  if (st1.ok()) {
    EXPECT_EQ(second.stats().already_applied, 1u);
  }
}

TEST_F(RedisSinkTest, RetryGivesUpAfterMaxAttempts) {
  RedisEndpoint dead;
  dead.port = 1;
  dead.connect_timeout = std::chrono::milliseconds(200);
  RedisClient client(dead);
  RedisSink sink(&client, schema_, SinkOptions{}, &clock_);
  FlushBatch b;
  b.host = "h";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", MakeRollup({{200, 1}})));
  RestartingSleeper sleeper(nullptr);
  Status st = FlushWithRetry(sink, b, RetryPolicy{3}, sleeper);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(sleeper.delays.size(), 2u);
  EXPECT_EQ(sink.stats().failures, 3u);
}

TEST_F(RedisSinkTest, AbortIsNotRetried) {
  RedisSink sink = MakeSink();
  ASSERT_TRUE(Run({"SET", schema_.CheckpointKey("h", "f"), "0-9"}).type ==
              RedisReply::Type::kStatus);
  FlushBatch b;
  b.host = "h";
  b.checkpoints.push_back({"f", "", "0-1"});
  RestartingSleeper sleeper(nullptr);
  EXPECT_EQ(FlushWithRetry(sink, b, RetryPolicy{}, sleeper).code(), StatusCode::kAborted);
  EXPECT_TRUE(sleeper.delays.empty());
}

TEST_F(RedisSinkTest, ErrorInsideExecIsSurfaced) {
  RedisSink sink = MakeSink();
  // A key of the wrong type makes the series script fail inside EXEC.
  const std::string key = schema_.SeriesKey(Tier::kMinute, kT0 / 60, SeriesKind::kAll, "");
  Run({"SET", key, "not a hash"});
  FlushBatch b;
  b.host = "h";
  b.series.push_back(Delta(Tier::kMinute, kT0, SeriesKind::kAll, "", MakeRollup({{200, 1}})));
  b.series.push_back(Delta(Tier::kHour, kT0, SeriesKind::kAll, "", MakeRollup({{200, 1}})));
  Status st = sink.Flush(b);
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("WRONGTYPE"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(key), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace apimeter

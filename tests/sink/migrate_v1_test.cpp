// MigrateV1ToV2 against a real redis-server: v1 data written by the real v1
// writer (RedisSink) from realistic traffic over several days (one past
// the minute tier's retention, two hosts, rejected lines), migrated, then
// every bucket read back with ReadBucketSeries and compared exactly with
// the v1 rollups, which the test reads on its own (SCAN + HGETALL, not the
// migration's key lists). Also: interrupted at many steps and run again,
// run again on migrated data (a no-op), and the schema refusals both ways.
#include "sink/migrate_v1.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "sink/block_reader.h"
#include "sink/block_sink.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/store_dump.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::NormalRollup;
using block_test::Normalize;
using testing::TestRedis;
using testing::Traffic;

using Buckets = std::map<std::pair<Tier, int64_t>, std::map<SeriesName, NormalRollup>>;

// Real time (Redis expires keys by its own clock): today 09:00 UTC or, early
// in the day, yesterday's.
const int64_t kNow = SystemClock().NowSeconds();
const int64_t kToday = (kNow - 10 * 3600) / kSecondsPerDay * kSecondsPerDay;

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

class MigrateV1Test : public ::testing::Test {
 protected:
  MigrateV1Test() : redis_(TestRedis::Private()), client_(redis_.endpoint()) {}

  RedisReply Run(const RedisArgs& args) {
    auto r = client_.Command(args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RedisReply{};
  }

  // v1 data as the v1 agent writes it: 3 days ago (hour and day tiers
  // only: past the minute retention), yesterday and today, two hosts.
  std::string WriteV1(const std::string& hint) {
    const std::string prefix = redis_.UniquePrefix(hint);
    struct Piece {
      std::string host;
      int64_t from, to;
      size_t lines;
    };
    const Piece pieces[] = {
        {"web1", kToday - 3 * kSecondsPerDay, kToday - 2 * kSecondsPerDay, 5000},
        {"web2", kToday - kSecondsPerDay + 36000, kToday - kSecondsPerDay + 37800, 3000},
        {"web1", kToday + 32400, kToday + 33600, 3000},
        {"web2", kToday + 33000, kToday + 33900, 1500}};
    RedisSink sink(&client_, KeySchema(prefix), SinkOptions{}, &clock_);
    uint64_t seed = 7;
    for (const Piece& p : pieces) {
      const Traffic t = Traffic::Make(seed++, p.lines, p.from, p.to, 40, 300);
      AggregatorOptions ao;
      ao.host = p.host;
      Aggregator agg(ao);
      for (size_t first = 0; first < t.lines.size(); first += 2000) {
        t.Feed(first, std::min(t.lines.size(), first + 2000), &agg);
        FlushBatch b = agg.TakeBatch();
        b.id = prefix + std::to_string(seed) + "." + std::to_string(first);
        Status st = sink.Flush(b);
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    }
    EXPECT_GT(sink.stats().dropped_expired_deltas, 0u) << "the oldest day lost its minutes";
    // A checkpoint and the agent state: the same keys in both schemas.
    Run({"SET", KeySchema(prefix).CheckpointKey("web1", "fp"), "0-100"});
    return prefix;
  }

  // A copy of every key of `from` under a new prefix (DUMP/RESTORE, with
  // the same time to live), so the kill test writes the v1 data once.
  std::string Copy(const std::string& from, const std::string& hint) {
    const std::string to = redis_.UniquePrefix(hint);
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      RedisReply r = Run({"SCAN", cursor, "MATCH", Escape(from) + ":*", "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const RedisReply& k : r.elements[1].elements) keys.push_back(k.str);
    } while (cursor != "0");
    std::vector<RedisArgs> reads;
    for (const std::string& k : keys) {
      reads.push_back({"DUMP", k});
      reads.push_back({"PTTL", k});
    }
    auto got = client_.Pipeline(reads);
    EXPECT_TRUE(got.ok());
    std::vector<RedisArgs> writes;
    for (size_t i = 0; got.ok() && i < keys.size(); ++i) {
      const int64_t ttl = std::max<int64_t>((*got)[2 * i + 1].integer, 0);
      writes.push_back({"RESTORE", to + keys[i].substr(from.size()), std::to_string(ttl),
                        (*got)[2 * i].str});
    }
    auto put = client_.Pipeline(writes);
    EXPECT_TRUE(put.ok());
    for (size_t i = 0; put.ok() && i < writes.size(); ++i) {
      EXPECT_FALSE((*put)[i].is_error()) << (*put)[i].str;
    }
    return to;
  }

  // Every v1 series by bucket, read with SCAN + HGETALL + the max sets.
  Buckets V1Truth(const std::string& prefix) {
    Buckets out;
    std::map<std::string, std::map<std::string, int64_t>> maxes;  // tag -> member -> max
    std::vector<std::pair<std::string, std::string>> series;      // key, member
    std::string cursor = "0";
    do {
      RedisReply r = Run({"SCAN", cursor, "MATCH", Escape(prefix) + ":{*", "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const RedisReply& k : r.elements[1].elements) {
        const size_t close = k.str.find('}');
        const std::string member = k.str.substr(close + 2);
        const char t = k.str[prefix.size() + 2];
        if ((t != 'm' && t != 'h' && t != 'd') || k.str.find('.', prefix.size()) > close) continue;
        if (member == "max") maxes[k.str.substr(0, close + 1)];
        if (member == "all" || member.rfind("h:", 0) == 0 || member.rfind("e:", 0) == 0 ||
            member.rfind("c:", 0) == 0 || member.rfind("ce:", 0) == 0) {
          series.emplace_back(k.str, member);
        }
      }
    } while (cursor != "0");
    for (auto& [tag, members] : maxes) {
      RedisReply z = Run({"ZRANGE", tag + ":max", "0", "-1", "WITHSCORES"});
      for (size_t i = 0; i + 1 < z.elements.size(); i += 2) {
        members[z.elements[i].str] = std::stoll(z.elements[i + 1].str);
      }
    }
    std::vector<RedisArgs> reads;
    for (const auto& [key, member] : series) reads.push_back({"HGETALL", key});
    auto hashes = client_.Pipeline(reads);
    EXPECT_TRUE(hashes.ok());
    if (!hashes.ok()) return out;
    for (size_t i = 0; i < series.size(); ++i) {
      const auto& [key, member] = series[i];
      const size_t open = prefix.size() + 2, dot = key.find('.', open), close = key.find('}');
      const Tier tier = *TierFromLetter(key[open]);
      const int64_t bucket = std::stoll(key.substr(open + 1, dot - open - 1));
      Rollup r;
      Status st = DecodeRollupFields((*hashes)[i], &r);
      EXPECT_TRUE(st.ok()) << st.ToString();
      auto& m = maxes[key.substr(0, close + 1)];
      if (m.count(member)) r.latency_max_us = m[member];
      SeriesName name;
      if (member == "all") {
        name = {SeriesKind::kAll, ""};
      } else if (member.rfind("ce:", 0) == 0) {
        name = {SeriesKind::kCustomerEndpoint, member.substr(3)};
      } else {
        const char k = member[0];
        name = {k == 'h' ? SeriesKind::kHost : k == 'e' ? SeriesKind::kEndpoint
                                                        : SeriesKind::kCustomer,
                member.substr(2)};
      }
      out[{tier, bucket}][name] = Normalize(r);
    }
    return out;
  }

  // Every v2 bucket that has a list, read with ReadBucketSeries.
  Buckets V2Buckets(const std::string& prefix) {
    std::set<std::pair<Tier, int64_t>> buckets;
    std::string cursor = "0";
    do {
      RedisReply r = Run({"SCAN", cursor, "MATCH", Escape(prefix) + ":{*", "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const RedisReply& k : r.elements[1].elements) {
        const size_t open = prefix.size() + 2, dot = k.str.find('.', open);
        const size_t close = k.str.find('}');
        const std::string kind = k.str.substr(close + 2);
        if (dot > close || (kind != "a" && kind != "e" && kind != "c" && kind != "x")) continue;
        buckets.insert({*TierFromLetter(k.str[open]),
                        std::stoll(k.str.substr(open + 1, dot - open - 1))});
      }
    } while (cursor != "0");
    Buckets out;
    const BlockKeys keys(prefix);
    NameDictionaries dicts;
    for (const auto& [tier, bucket] : buckets) {
      auto got = ReadBucketSeries(client_, keys, tier, bucket, &dicts);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok()) continue;
      for (const auto& [name, rollup] : *got) out[{tier, bucket}][name] = Normalize(rollup);
    }
    return out;
  }

  Result<MigrateStats> Migrate(const std::string& prefix, uint64_t fail_before_step = 0) {
    MigrateOptions o;
    o.fail_before_step = fail_before_step;
    return MigrateV1ToV2(client_, prefix, o, &clock_);
  }

  // Compares bucket by bucket (a failure names the first differing bucket).
  static void ExpectSame(const Buckets& want, const Buckets& got) {
    ASSERT_EQ(want.size(), got.size());
    for (const auto& [bucket, series] : want) {
      SCOPED_TRACE(std::string(1, TierLetter(bucket.first)) + std::to_string(bucket.second));
      ASSERT_TRUE(got.count(bucket));
      const auto& g = got.at(bucket);
      ASSERT_EQ(series.size(), g.size());
      for (const auto& [name, rollup] : series) {
        ASSERT_TRUE(g.count(name)) << name.name;
        EXPECT_TRUE(g.at(name) == rollup) << name.name;
      }
    }
  }

  TestRedis& redis_;
  RedisClient client_;
  ManualClock clock_{kNow * kMicrosPerSecond};
};

TEST_F(MigrateV1Test, EveryBucketIsConvertedExactlyAndTheSchemaIsSetLast) {
  const std::string prefix = WriteV1("mig");
  const Buckets truth = V1Truth(prefix);
  ASSERT_GT(truth.size(), 50u);
  std::vector<MigrateProgress> seen;
  MigrateOptions o;
  const auto t0 = std::chrono::steady_clock::now();
  auto stats = MigrateV1ToV2(client_, prefix, o, &clock_,
                             [&](const MigrateProgress& p) { seen.push_back(p); });
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::printf("migrated %llu tags, %llu series, %llu v1 keys into %llu blocks in %.2f s\n",
              static_cast<unsigned long long>(stats->tags),
              static_cast<unsigned long long>(stats->series),
              static_cast<unsigned long long>(stats->keys_deleted),
              static_cast<unsigned long long>(stats->blocks),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_EQ(stats->days, 3u);
  EXPECT_GT(stats->names, 0u);
  EXPECT_EQ(stats->parts_skipped, 0u);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().tags_done, seen.back().tags_total);
  EXPECT_EQ(seen.back().tags_done, stats->tags);

  ExpectSame(truth, V2Buckets(prefix));
  EXPECT_TRUE(V1Truth(prefix).empty()) << "v1 series left";
  EXPECT_EQ(Run({"GET", prefix + ":schema"}).str, "2");
  EXPECT_EQ(Run({"GET", KeySchema(prefix).CheckpointKey("web1", "fp")}).str, "0-100");
  EXPECT_EQ(Run({"TYPE", KeySchema(prefix).SlowKey(kToday / kSecondsPerDay)}).str, "zset");
  EXPECT_EQ(Run({"TYPE", KeySchema(prefix).RegistryKey(kToday / kSecondsPerDay, 'e')}).str,
            "hash");

  // From now on v2 writes, and v1 is refused.
  const BlockKeys keys(prefix);
  StandaloneFlush protocol(&client_, keys);
  BlockSink v2(&client_, &protocol, keys, SinkOptions{}, &clock_);
  EXPECT_TRUE(v2.CheckSchema().ok());
  RedisSink v1(&client_, KeySchema(prefix), SinkOptions{}, &clock_);
  Status st = v1.CheckSchema();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("redis.schema: 2"), std::string::npos) << st.message();
}

TEST_F(MigrateV1Test, AV2WriterRefusesV1DataAndAV1WriterRefusesV2OrAMigration) {
  const std::string prefix = WriteV1("refuse");
  const BlockKeys keys(prefix);
  StandaloneFlush protocol(&client_, keys);
  BlockSink v2(&client_, &protocol, keys, SinkOptions{}, &clock_);
  FlushBatch b;
  b.id = "x";
  b.host = "web1";
  b.checkpoints.push_back({"fp2", "", "0-10"});
  Status st = v2.Flush(b);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("apimeter migrate"), std::string::npos) << st.message();
  EXPECT_EQ(Run({"EXISTS", keys.CheckpointKey("web1", "fp2"), prefix + ":schema"}).integer, 0);

  // Interrupted migration: both refuse, naming migrate.
  ASSERT_FALSE(Migrate(prefix, 3).ok());
  EXPECT_EQ(Run({"GET", prefix + ":schema"}).str, "migrating");
  BlockSink v2b(&client_, &protocol, keys, SinkOptions{}, &clock_);
  st = v2b.CheckSchema();
  EXPECT_NE(st.message().find("apimeter migrate"), std::string::npos) << st.message();
  RedisSink v1(&client_, KeySchema(prefix), SinkOptions{}, &clock_);
  FlushBatch c;
  c.id = "y";
  c.host = "web1";
  c.checkpoints.push_back({"fp3", "", "0-10"});
  st = v1.Flush(c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(Run({"EXISTS", keys.CheckpointKey("web1", "fp3")}).integer, 0);
}

TEST_F(MigrateV1Test, InterruptedAtManyStepsThenRunAgainCountsEverythingOnce) {
  // How many write steps a whole migration of this data takes.
  const std::string original = WriteV1("orig");
  const Buckets truth = V1Truth(original);
  const std::string probe = Copy(original, "probe");
  auto whole = Migrate(probe);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  const uint64_t steps = whole->steps;
  ASSERT_GT(steps, 20u);
  // The first steps (marker, registry), a window in the middle (a tag's
  // appends and deletes: some land between a tag's parts or before its
  // delete), and the last steps (compaction, the final marker).
  uint64_t skipped = 0;
  for (uint64_t n : {uint64_t{1}, uint64_t{3}, steps / 2, steps / 2 + 1, steps / 2 + 2,
                     steps - 1, steps}) {
    SCOPED_TRACE("fail before step " + std::to_string(n));
    const std::string prefix = Copy(original, "kill");
    auto first = Migrate(prefix, n);
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
    auto again = Migrate(prefix);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    skipped += again->parts_skipped;
    ExpectSame(truth, V2Buckets(prefix));
    EXPECT_TRUE(V1Truth(prefix).empty());
    EXPECT_EQ(Run({"GET", prefix + ":schema"}).str, "2");
  }
  // The probe's own result matches too (the copies are of the same data).
  ExpectSame(truth, V2Buckets(probe));
  EXPECT_GT(skipped, 0u) << "no rerun met a part appended by the interrupted run";
}

TEST_F(MigrateV1Test, RunningAgainOnMigratedDataChangesNothing) {
  const std::string prefix = WriteV1("again");
  ASSERT_TRUE(Migrate(prefix).ok());
  auto before = testing::DumpStore({redis_.endpoint()}, prefix);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto again = Migrate(prefix);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->was_v2);
  EXPECT_EQ(again->tags, 0u);
  EXPECT_EQ(again->steps, 0u) << "a rerun on migrated data writes nothing";
  auto after = testing::DumpStore({redis_.endpoint()}, prefix);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(*before == *after);

  // A fresh Redis: nothing to convert, the marker is set.
  const std::string empty = redis_.UniquePrefix("fresh");
  auto fresh = Migrate(empty);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->tags, 0u);
  EXPECT_EQ(Run({"GET", empty + ":schema"}).str, "2");
}

}  // namespace
}  // namespace apimeter

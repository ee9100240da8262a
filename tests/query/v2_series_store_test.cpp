// The v2 SeriesStore against a real redis-server, with data written by the
// real v2 writer (BlockSink + StandaloneFlush): the same JSON as v1 on the
// same data, compacted and uncompacted groups answering alike, the base
// cache, damaged blocks (a partial answer naming them), segmented customer
// blocks (format 3), and the read-only schema check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "common/time_util.h"
#include "query/query_engine.h"
#include "sink/block_codec.h"
#include "sink/block_compactor.h"
#include "sink/block_sink.h"
#include "sink/redis_sink.h"
#include "sink/standalone_flush.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

namespace apimeter {
namespace {

using nlohmann::json;
using testing::Compute;
using testing::Expected;
using testing::TestRedis;
using testing::TestRequest;

constexpr int64_t kHour = 3600, kDay = 86400;


class V2StoreTest : public ::testing::Test {
 protected:
  V2StoreTest()
      : client_(testing::PatientEndpoint()),
        prefix_(TestRedis::Get().UniquePrefix("v2read")),
        keys_(prefix_),
        day_(FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_((day_ + 1) * kDay * 1000000 + 12 * kHour * 1000000LL),
        cache_(std::make_shared<BlockCache>(kDefaultBlockCacheBytes)) {}

  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  int64_t At(int h, int m = 0) const { return day_ * kDay + h * kHour + m * 60; }

  std::unique_ptr<QueryEngine> Engine(std::shared_ptr<BlockCache> cache = nullptr,
                                      std::vector<std::string>* log = nullptr) {
    V2StoreOptions options;
    if (log != nullptr) options.log_warning = [log](const std::string& l) { log->push_back(l); };
    return std::make_unique<QueryEngine>(
        MakeV2SeriesStore(&client_, keys_, cache ? cache : cache_, options), RetentionSeconds{},
        &clock_);
  }

  void WriteV2(const std::vector<TestRequest>& requests) {
    StandaloneFlush protocol(&client_, keys_);
    BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
    FlushBatch batch = testing::BatchFor(requests);
    batch.id = prefix_ + "-" + std::to_string(++batches_);
    Status st = sink.Flush(batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Every group a range of data may have written.
  std::vector<BlockGroup> AllGroups(int64_t from_s, int64_t to_s) const {
    std::vector<BlockGroup> out;
    for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
      for (int64_t b = FloorDiv(from_s, TierSeconds(tier)); b < CeilDiv(to_s, TierSeconds(tier));
           ++b) {
        for (BlockKind kind : {BlockKind::kAll, BlockKind::kEndpoint, BlockKind::kCustomer,
                               BlockKind::kCustomerEndpoint}) {
          if (kind == BlockKind::kCustomerEndpoint && tier != Tier::kDay) continue;
          const int shards = kind == BlockKind::kAll ? 1 : BlockShards(tier);
          for (int s = 0; s < shards; ++s) {
            out.push_back({kind, tier, b, static_cast<uint16_t>(s)});
          }
        }
      }
    }
    return out;
  }

  size_t Compact(int64_t from_s, int64_t to_s) {
    BlockCompactor compactor(&client_, keys_, SinkOptions{});
    const auto groups = AllGroups(from_s, to_s);
    auto r = compactor.Compact(groups);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return compactor.stats().compacted;
  }

  // 2,000 mixed requests in 10:00..11:00, written in two flushes and then
  // compacted into one base per group; returns them.
  std::vector<TestRequest> WriteTwoFlushesAndCompact() {
    const auto requests = testing::MixedRequests(At(10), At(11), 2000, 24);
    WriteV2(std::vector<TestRequest>(requests.begin(), requests.begin() + 1000));
    WriteV2(std::vector<TestRequest>(requests.begin() + 1000, requests.end()));
    EXPECT_GT(Compact(At(10), At(11)), 0u);
    return requests;
  }

  QueryParams Params(int64_t from, int64_t to, QueryFilter filter = {}, int64_t limit = 20) const {
    QueryParams p;
    p.from_s = from;
    p.to_s = to;
    p.filter = std::move(filter);
    p.limit = limit;
    return p;
  }

  // Every JSON route over one range, for comparing two stores or states.
  json Answers(QueryEngine& engine, int64_t from, int64_t to) {
    json all = json::object();
    auto put = [&](const std::string& name, Result<json> r) {
      EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
      all[name] = r.ok() ? *r : json();
    };
    put("overview", ToJson(engine.Overview(Params(from, to))));
    put("overview_host", ToJson(engine.Overview(Params(from, to, {"web2", "", ""}))));
    put("overview_endpoint", ToJson(engine.Overview(Params(from, to, {"", "POST /v1/orders", ""}))));
    put("overview_customer", ToJson(engine.Overview(Params(from, to, {"", "", "globex"}))));
    put("overview_pair", ToJson(engine.Overview(Params(from, to, {"", "GET /v1/users", "acme"}))));
    put("endpoints", ToJson(engine.Endpoints(Params(from, to))));
    put("endpoints_2", ToJson(engine.Endpoints(Params(from, to, {}, 2))));
    put("endpoints_of_customer", ToJson(engine.Endpoints(Params(from, to, {"", "", "acme"}))));
    put("customers", ToJson(engine.Customers(Params(from, to))));
    put("customers_1", ToJson(engine.Customers(Params(from, to, {}, 1))));
    put("customer", ToJson(engine.Customers(Params(from, to, {"", "", "anonymous"}))));
    put("timeseries", ToJson(engine.Timeseries(Params(from, to))));
    put("timeseries_customer", ToJson(engine.Timeseries(Params(from, to, {"", "", "acme"}))));
    put("slow", ToJson(engine.Slow(Params(from, to))));
    put("heatmap_p95", ToJson(engine.Heatmap(Params(from, to), "p95")));
    put("heatmap_requests", ToJson(engine.Heatmap(Params(from, to), "requests")));
    auto names = engine.CustomerNames(Params(from, to));
    EXPECT_TRUE(names.ok());
    if (names.ok()) all["customer_names"] = *names;
    auto total = engine.SeriesTotal(SeriesKind::kEndpoint, "GET /v1/users", from, to);
    EXPECT_TRUE(total.ok());
    if (total.ok()) {
      all["total"] = {total->requests, total->latency_count, total->latency_sum_us,
                      total->latency_max_us, total->bytes_out};
    }
    auto requests = engine.SeriesRequests(
        {{SeriesKind::kCustomer, "acme"}, {SeriesKind::kAll, ""}, {SeriesKind::kHost, "web1"}},
        from, to);
    EXPECT_TRUE(requests.ok());
    if (requests.ok()) all["series_requests"] = *requests;
    return all;
  }

  // The JSON answers, key by key, so a failure names the route.
  static void ExpectSameAnswers(const json& a, const json& b) {
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [route, value] : a.items()) EXPECT_EQ(value, b[route]) << route;
  }

  std::string ListKey(const BlockGroup& g) const { return keys_.ListKey(g); }

  RedisClient client_;
  std::string prefix_;
  BlockKeys keys_;
  int64_t day_;
  ManualClock clock_;
  std::shared_ptr<BlockCache> cache_;
  int batches_ = 0;
};

TEST_F(V2StoreTest, EveryAnswerIsTheSameJsonAsV1) {
  const auto requests = testing::MixedRequests(At(8), At(14), 4000, 21);
  KeySchema v1(TestRedis::Get().UniquePrefix("v1same"));
  RedisSink v1_sink(&client_, v1, SinkOptions{}, &clock_);
  // Three flushes each, so v2 groups hold several deltas.
  for (int k = 0; k < 3; ++k) {
    std::vector<TestRequest> part;
    for (size_t i = k; i < requests.size(); i += 3) part.push_back(requests[i]);
    Status st = v1_sink.Flush(testing::BatchFor(part));
    ASSERT_TRUE(st.ok()) << st.ToString();
    WriteV2(part);
  }
  QueryEngine v1_engine(&client_, v1, RetentionSeconds{}, &clock_);
  auto v2_engine = Engine();
  for (auto [from, to] : {std::pair{At(9, 7), At(13, 41)}, std::pair{At(0), At(24)},
                          std::pair{At(8), At(9)}}) {
    SCOPED_TRACE(FormatIso8601(from));
    const json a = Answers(v1_engine, from, to);
    const json b = Answers(*v2_engine, from, to);
    ASSERT_GT(a["overview"]["requests"].get<uint64_t>(), 0u);
    ExpectSameAnswers(a, b);
  }
}

TEST_F(V2StoreTest, CompactedAndUncompactedGroupsAnswerTheSame) {
  const auto requests = testing::MixedRequests(At(9), At(12), 3000, 22);
  for (int k = 0; k < 4; ++k) {
    std::vector<TestRequest> part;
    for (size_t i = k; i < requests.size(); i += 4) part.push_back(requests[i]);
    WriteV2(part);
  }
  const json before = Answers(*Engine(), At(9, 30), At(11, 45));
  ASSERT_GT(Compact(At(9), At(12)), 100u);
  // A fresh cache, and the engine that already read (its bases are stale now).
  const json fresh = Answers(*Engine(std::make_shared<BlockCache>(kDefaultBlockCacheBytes)),
                             At(9, 30), At(11, 45));
  ExpectSameAnswers(before, fresh);
  // Deltas after the compaction: base + delta still sums exactly.
  std::vector<TestRequest> more = testing::MixedRequests(At(10), At(11), 500, 23);
  WriteV2(more);
  std::vector<TestRequest> all = requests;
  all.insert(all.end(), more.begin(), more.end());
  auto engine = Engine();
  auto j = ToJson(engine->Overview(Params(At(9, 30), At(11, 45))));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["requests"], Compute(all, At(9, 30), At(11, 45)).requests);
  EXPECT_FALSE(j->contains("partial"));
}

TEST_F(V2StoreTest, ASecondReadOfACompactedGroupTakesTheBaseFromTheCache) {
  const auto requests = WriteTwoFlushesAndCompact();
  ASSERT_FALSE(HasFailure()) << "nothing was compacted";
  auto engine = Engine();
  // One hour of one endpoint: one group, the hour 'e' group of its shard.
  const QueryParams p = Params(At(10), At(11), {"", "POST /v1/orders", ""});
  auto first = ToJson(engine->Overview(p));
  ASSERT_TRUE(first.ok());
  const SeriesStoreStats s1 = engine->store().stats();
  EXPECT_EQ(s1.bases_cached, 0u);
  EXPECT_EQ(s1.blocks_read, 1u);  // the group's base
  EXPECT_EQ(cache_->GetStats().entries, 1u);

  auto second = ToJson(engine->Overview(p));
  ASSERT_TRUE(second.ok());
  const SeriesStoreStats s2 = engine->store().stats();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(s2.bases_cached - s1.bases_cached, 1u);
  EXPECT_EQ(s2.blocks_read, s1.blocks_read) << "LRANGE 1 -1: the base is not sent again";
  EXPECT_EQ(s2.rereads, 0u);
  EXPECT_EQ(cache_->GetStats().hits, 1u);

  // A new delta: the cached base plus that one delta.
  TestRequest extra = requests[0];
  extra.endpoint = "POST /v1/orders";
  extra.time_us = At(10, 30) * 1000000;
  WriteV2({extra});
  auto third = ToJson(engine->Overview(p));
  ASSERT_TRUE(third.ok());
  const SeriesStoreStats s3 = engine->store().stats();
  EXPECT_EQ(s3.blocks_read - s2.blocks_read, 1u);
  EXPECT_EQ(s3.bases_cached - s2.bases_cached, 1u);
  EXPECT_EQ((*third)["requests"].get<uint64_t>(),
            Compute(requests, At(10), At(11),
                    [](const TestRequest& r) { return r.endpoint == "POST /v1/orders"; })
                    .requests +
                1);

  // Compacted again: the generation moved, so the stale base is read anew.
  ASSERT_GT(Compact(At(10), At(11)), 0u);
  auto fourth = ToJson(engine->Overview(p));
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(*fourth, *third);
  EXPECT_GT(engine->store().stats().rereads, 0u);
}

// A customer group's base (customer kinds have thousands of series) read
// for one customer is decoded for that series only and not cached: every
// read takes it from Redis, and the answer is the same as a whole decode's.
TEST_F(V2StoreTest, ACustomerBaseReadForOneCustomerIsNotCached) {
  const auto requests = WriteTwoFlushesAndCompact();
  ASSERT_FALSE(HasFailure()) << "nothing was compacted";
  auto engine = Engine();
  const QueryParams p = Params(At(10), At(11), {"", "", "acme"});
  for (int round = 0; round < 2; ++round) {
    auto answer = ToJson(engine->Overview(p));
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    const auto expected = Compute(requests, At(10), At(11),
                                  [](const TestRequest& r) { return r.customer == "acme"; });
    ASSERT_GT(expected.requests, 0u);
    EXPECT_EQ((*answer)["requests"].get<uint64_t>(), expected.requests);
  }
  const SeriesStoreStats s = engine->store().stats();
  EXPECT_EQ(s.bases_cached, 0u);
  EXPECT_EQ(s.blocks_read, 2u);  // the group's base, once per read
  EXPECT_EQ(cache_->GetStats().entries, 0u);
}

// Thousands of customers: the customer blocks of the hour and day are
// segmented (format 3), deltas and then bases, and every customer answer
// (top list, a filtered customer, the ranking of all names) is v1's.
TEST_F(V2StoreTest, SegmentedCustomerBlocksAnswerLikeV1) {
  std::mt19937_64 rng(31);
  std::vector<TestRequest> requests = testing::MixedRequests(At(9), At(11), 60000, 26);
  // 20,000 customers, the first ones busiest (about Zipf): over 16 KiB of
  // customer series per day shard in each flush.
  for (TestRequest& r : requests) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    r.customer = "cust-" + std::to_string(static_cast<int>(std::pow(20000.0, u)) - 1);
  }
  KeySchema v1(TestRedis::Get().UniquePrefix("v1seg"));
  RedisSink v1_sink(&client_, v1, SinkOptions{}, &clock_);
  Status st = v1_sink.Flush(testing::BatchFor(requests));
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (int k = 0; k < 2; ++k) {
    std::vector<TestRequest> part;
    for (size_t i = k; i < requests.size(); i += 2) part.push_back(requests[i]);
    WriteV2(part);
  }
  // The day's customer groups hold segmented deltas.
  size_t segmented = 0;
  for (uint16_t shard = 0; shard < BlockShards(Tier::kDay); ++shard) {
    auto r = client_.Command(
        {"LINDEX", ListKey({BlockKind::kCustomer, Tier::kDay, day_, shard}), "0"});
    ASSERT_TRUE(r.ok() && r->type == RedisReply::Type::kString);
    auto h = ParseBlockHeader(r->str);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    segmented += h->segmented;
  }
  EXPECT_EQ(segmented, BlockShards(Tier::kDay));
  QueryEngine v1_engine(&client_, v1, RetentionSeconds{}, &clock_);
  auto customer_answers = [&](QueryEngine& engine) {
    json all = json::object();
      for (auto [from, to] : {std::pair{At(9), At(11)}, std::pair{At(0), At(24)},
                            std::pair{At(9, 13), At(10, 47)}}) {
      const std::string range = std::to_string(from) + "-" + std::to_string(to);
      all["top_" + range] = *ToJson(engine.Customers(Params(from, to, {}, 50)));
      for (const char* c : {"cust-0", "cust-7", "cust-1999", "cust-3998"}) {
        all[std::string(c) + "_" + range] =
            *ToJson(engine.Customers(Params(from, to, {"", "", c})));
        all[std::string(c) + "_endpoints_" + range] =
            *ToJson(engine.Endpoints(Params(from, to, {"", "", c})));
      }
      auto names = engine.CustomerNames(Params(from, to));
      EXPECT_TRUE(names.ok());
      if (names.ok()) all["names_" + range] = *names;
    }
    return all;
  };
  const json expected = customer_answers(v1_engine);
  ASSERT_GT(expected["top_" + std::to_string(At(0)) + "-" + std::to_string(At(24))]["customers"].size(),
            40u);
  ExpectSameAnswers(expected, customer_answers(*Engine()));
  // Compacted into segmented bases: the same answers.
  ASSERT_GT(Compact(At(9), At(11)), 0u);
  ExpectSameAnswers(expected,
                    customer_answers(*Engine(std::make_shared<BlockCache>(kDefaultBlockCacheBytes))));
}

// Corruption: a block in Redis that fails its checks is left out, the
// answer names its key and the other numbers stay right.
class V2CorruptionTest : public V2StoreTest {
 protected:
  void SetUp() override {
    V2StoreTest::SetUp();
    requests_ = testing::MixedRequests(At(9), At(12), 3000, 25);
    for (int k = 0; k < 3; ++k) {
      std::vector<TestRequest> part;
      for (size_t i = k; i < requests_.size(); i += 3) part.push_back(requests_[i]);
      parts_.push_back(part);
      WriteV2(part);
    }
  }
  std::string Element(const std::string& key, int index) {
    auto r = client_.Command({"LINDEX", key, std::to_string(index)});
    EXPECT_TRUE(r.ok() && r->type == RedisReply::Type::kString);
    return r.ok() ? r->str : "";
  }
  void Set(const std::string& key, int index, const std::string& bytes) {
    auto r = client_.Command({"LSET", key, std::to_string(index), bytes});
    ASSERT_TRUE(r.ok() && !r->is_error()) << (r.ok() ? r->str : r.status().ToString());
  }
  std::vector<TestRequest> requests_;
  std::vector<std::vector<TestRequest>> parts_;
};

TEST_F(V2CorruptionTest, ADamagedDeltaIsLeftOutAndNamed) {
  // The hour 10 'a' group: element 1 is the second flush's part of that hour.
  const std::string key = ListKey({BlockKind::kAll, Tier::kHour, At(10) / kHour, 0});
  const std::string good = Element(key, 1);
  ASSERT_GT(good.size(), kBlockHeaderBytes + 8);
  std::string flipped = good;
  flipped[kBlockHeaderBytes + 3] ^= 0x20;
  const std::string truncated = good.substr(0, good.size() / 2);
  const std::vector<std::pair<std::string, std::string>> damages = {
      {"truncated", truncated}, {"flipped byte", flipped}, {"garbage", "not a block at all"}};
  // The whole answer minus the second flush's requests (i % 3 == 1) in hour 10.
  std::vector<TestRequest> kept;
  for (size_t i = 0; i < requests_.size(); ++i) {
    const int64_t t = requests_[i].time_us / 1000000;
    if (i % 3 == 1 && t >= At(10) && t < At(11)) continue;
    kept.push_back(requests_[i]);
  }
  const Expected expected = Compute(kept, At(9), At(12));
  ASSERT_LT(expected.requests, requests_.size());
  for (const auto& [what, bytes] : damages) {
    SCOPED_TRACE(what);
    Set(key, 1, bytes);
    std::vector<std::string> log;
    auto engine = Engine(nullptr, &log);
    auto j = ToJson(engine->Overview(Params(At(9), At(12))));
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    EXPECT_EQ((*j)["partial"], true);
    EXPECT_EQ((*j)["damaged"], json::array({key}));
    EXPECT_EQ((*j)["requests"], expected.requests);
    EXPECT_EQ((*j)["bytes_out"], expected.bytes_out);
    EXPECT_EQ((*j)["errors_5xx"], expected.e5);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_NE(log[0].find(key), std::string::npos) << log[0];
    // Asked again: still partial, logged once.
    auto again = ToJson(engine->Overview(Params(At(9), At(12))));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *j);
    EXPECT_EQ(log.size(), 1u);
    // Answers that do not read that block are whole.
    auto other = ToJson(engine->Overview(Params(At(9), At(10))));
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->contains("partial"));
    EXPECT_TRUE(engine->last_damaged().empty());
  }
  // Top-N reads every shard: one damaged endpoint block, the rest counted.
  Set(key, 1, good);
  const BlockGroup e_group{BlockKind::kEndpoint, Tier::kHour, At(10) / kHour,
                           BlockKeys::ShardOfName(Tier::kHour, "GET /v1/users")};
  Set(ListKey(e_group), 0, "garbage");
  auto engine = Engine();
  auto top = ToJson(engine->Endpoints(Params(At(9), At(12))));
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  EXPECT_EQ((*top)["partial"], true);
  EXPECT_EQ((*top)["damaged"], json::array({ListKey(e_group)}));
  EXPECT_EQ((*top)["total_requests"], Compute(requests_, At(9), At(12)).requests);
  EXPECT_EQ(engine->last_damaged(), ReadDamage{ListKey(e_group)});
}

TEST_F(V2CorruptionTest, ADamagedBaseIsLeftOutAndNamed) {
  ASSERT_GT(Compact(At(9), At(12)), 0u);
  const std::string key = ListKey({BlockKind::kAll, Tier::kHour, At(11) / kHour, 0});
  std::string base = Element(key, 0);
  base[base.size() - 1] ^= 0x01;
  Set(key, 0, base);
  auto engine = Engine();
  auto j = ToJson(engine->Overview(Params(At(9), At(12))));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["damaged"], json::array({key}));
  EXPECT_EQ((*j)["requests"], Compute(requests_, At(9), At(11)).requests);
  EXPECT_EQ(cache_->GetStats().entries, 2u) << "the damaged base is not cached";
}

TEST_F(V2CorruptionTest, ABlockWithAnIdTheRegistryDoesNotKnowIsLeftOutOfTopN) {
  // A well-formed block, but endpoint id 999 was never given that day.
  const BlockGroup g{BlockKind::kEndpoint, Tier::kHour, At(10) / kHour, 0};
  Rollup r;
  r.AddRequest(200, 1, 1, 10);
  const KeyedRollup series[] = {{999, &r}};
  auto bytes = EncodeBlock(g, false, series);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(client_.Command({"RPUSH", ListKey(g), *bytes}).ok());
  auto engine = Engine();
  auto top = ToJson(engine->Endpoints(Params(At(9), At(12))));
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  EXPECT_EQ((*top)["damaged"], json::array({ListKey(g)}));
  uint64_t listed = 0;
  for (const json& row : (*top)["endpoints"]) listed += row["requests"].get<uint64_t>();
  EXPECT_EQ(listed, requests_.size());
  EXPECT_EQ(engine->store().stats().dictionary_reads, 2u) << "one read, one re-read";
}

// --- The schema marker, read-only ---

TEST_F(V2StoreTest, V1DataIsRefusedNamingMigrateAndNothingIsWritten) {
  KeySchema v1(prefix_);
  {
    RedisSink sink(&client_, v1, SinkOptions{}, &clock_);
    ASSERT_TRUE(sink.Flush(testing::BatchFor(testing::MixedRequests(At(10), At(11), 50, 26))).ok());
  }
  auto engine = Engine();
  auto j = ToJson(engine->Overview(Params(At(10), At(11))));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(j.status().message().find("apimeter migrate"), std::string::npos);
  auto marker = client_.Command({"GET", keys_.SchemaKey()});
  ASSERT_TRUE(marker.ok());
  EXPECT_TRUE(marker->is_nil());
}

TEST_F(V2StoreTest, AReaderNeverWritesTheMarkerAndRefusesAnUnknownSchema) {
  auto empty = ToJson(Engine()->Overview(Params(At(10), At(11))));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ((*empty)["requests"], 0);
  auto marker = client_.Command({"GET", keys_.SchemaKey()});
  ASSERT_TRUE(marker.ok());
  EXPECT_TRUE(marker->is_nil()) << "a reader never sets the marker";
  ASSERT_TRUE(client_.Command({"SET", keys_.SchemaKey(), "3"}).ok());
  auto j = ToJson(Engine()->Overview(Params(At(10), At(11))));
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("schema '3'"), std::string::npos) << j.status().message();
}

}  // namespace
}  // namespace apimeter

// The customers of one endpoint (issue 18 part 1) against a real
// redis-server, written by the real aggregator and v2 writer: three hosts,
// each flushing its lines in several batches, over three UTC days. Counts,
// errors and first/last seen must equal an independent count of the same
// requests, before and after compaction (min of firsts, max of lasts); a
// day written without minutes gives null, never a guess; v1 refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "sink/schema.h"
#include "query/query_engine.h"
#include "server/usage_json.h"
#include "sink/block_compactor.h"
#include "sink/block_sink.h"
#include "sink/standalone_flush.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::TestRedis;
using testing::TestRequest;

constexpr int64_t kDay = 86400;
const std::string kLegacy = "GET /v1/legacy-export";

struct Expect {
  uint64_t requests = 0, e4 = 0, e5 = 0;
  int64_t first_minute = INT64_MAX, last_minute = INT64_MIN;
  std::vector<int64_t> latencies;
};

class EndpointCustomersTest : public ::testing::Test {
 protected:
  EndpointCustomersTest()
      : client_(testing::PatientEndpoint()),
        prefix_(TestRedis::Get().UniquePrefix("epcust")),
        keys_(prefix_),
        day_(FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_((day_ + 1) * kDay * 1000000 + 12 * 3600 * 1000000LL),
        cache_(std::make_shared<BlockCache>(kDefaultBlockCacheBytes)) {}

  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  std::unique_ptr<QueryEngine> Engine() {
    return std::make_unique<QueryEngine>(MakeV2SeriesStore(&client_, keys_, cache_),
                                         RetentionSeconds{}, &clock_);
  }

  void Flush(FlushBatch batch) {
    StandaloneFlush protocol(&client_, keys_);
    BlockSink sink(&client_, &protocol, keys_, SinkOptions{}, &clock_);
    batch.id = prefix_ + "-" + std::to_string(++batches_);
    Status st = sink.Flush(batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Each host's requests through its own aggregator, flushed every `every` lines.
  void WriteThroughAggregators(const std::vector<TestRequest>& requests, size_t every) {
    std::map<std::string, std::unique_ptr<Aggregator>> aggs;
    std::map<std::string, size_t> pending;
    for (const TestRequest& r : requests) {
      auto& agg = aggs[r.host];
      if (!agg) agg = std::make_unique<Aggregator>(AggregatorOptions{.host = r.host});
      LogRecord rec;
      rec.time_us = r.time_us;
      rec.status = r.status;
      rec.bytes_in = r.bytes_in;
      rec.bytes_out = r.bytes_out;
      rec.latency_us = r.latency_us;
      agg->Add(rec, r.endpoint, r.customer);
      if (++pending[r.host] % every == 0) Flush(agg->TakeBatch());
    }
    for (auto& [host, agg] : aggs) {
      if (!agg->Empty()) Flush(agg->TakeBatch());
    }
  }

  size_t CompactDays(int64_t first_day, int64_t last_day) {
    std::vector<BlockGroup> groups;
    for (int64_t d = first_day; d < last_day; ++d) {
      for (uint16_t s = 0; s < BlockShards(Tier::kDay); ++s) {
        groups.push_back({BlockKind::kCustomerEndpoint, Tier::kDay, d, s});
      }
    }
    BlockCompactor compactor(&client_, keys_, SinkOptions{});
    auto r = compactor.Compact(groups);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return compactor.stats().compacted;
  }

  QueryParams Params(const std::string& endpoint, int64_t limit = 1000) const {
    QueryParams p;
    p.from_s = (day_ - 2) * kDay;
    p.to_s = (day_ + 1) * kDay;
    p.filter.endpoint = endpoint;
    p.limit = limit;
    return p;
  }

  // Random traffic: hosts web1..3, 40 customers, 3 endpoints, three days.
  std::vector<TestRequest> Traffic(size_t n, uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::vector<TestRequest> out;
    static const char* kEndpoints[] = {"GET /v1/orders/:id", "POST /v1/orders", "GET /v1/legacy-export"};
    static const int kStatus[] = {200, 200, 200, 201, 404, 429, 500, 503};
    for (size_t i = 0; i < n; ++i) {
      TestRequest r;
      const int64_t second = static_cast<int64_t>(rng() % (3 * kDay));
      r.time_us = ((day_ - 2) * kDay + second) * 1000000 + static_cast<int64_t>(rng() % 1000000);
      r.host = "web" + std::to_string(1 + rng() % 3);
      r.endpoint = kEndpoints[rng() % 3];
      r.customer = "cust" + std::to_string(rng() % 40);
      r.status = kStatus[rng() % std::size(kStatus)];
      r.latency_us = static_cast<int64_t>(1000 + rng() % 400000);
      out.push_back(r);
    }
    return out;
  }

  static std::map<std::string, Expect> Count(const std::vector<TestRequest>& requests,
                                             const std::string& endpoint) {
    std::map<std::string, Expect> out;
    for (const TestRequest& r : requests) {
      if (r.endpoint != endpoint) continue;
      Expect& e = out[r.customer];
      ++e.requests;
      e.e4 += r.status >= 400 && r.status < 500;
      e.e5 += r.status >= 500;
      const int64_t minute = FloorDiv(r.time_us, 60000000);
      e.first_minute = std::min(e.first_minute, minute);
      e.last_minute = std::max(e.last_minute, minute);
      e.latencies.push_back(r.latency_us);
    }
    return out;
  }

  void ExpectExact(const EndpointCustomersAnswer& a, const std::map<std::string, Expect>& want) {
    ASSERT_EQ(a.customers.size(), want.size());
    EXPECT_EQ(a.customer_count, want.size());
    uint64_t total = 0;
    for (const auto& [name, e] : want) total += e.requests;
    EXPECT_EQ(a.total_requests, total);
    for (size_t i = 0; i < a.customers.size(); ++i) {
      const EndpointCustomerRow& row = a.customers[i];
      if (i > 0) EXPECT_GE(a.customers[i - 1].requests, row.requests);  // most first
      SCOPED_TRACE(row.customer);
      ASSERT_TRUE(want.count(row.customer));
      const Expect& e = want.at(row.customer);
      EXPECT_EQ(row.requests, e.requests);
      EXPECT_EQ(row.errors_4xx, e.e4);
      EXPECT_EQ(row.errors_5xx, e.e5);
      ASSERT_TRUE(row.first_seen_s && row.last_seen_s);
      EXPECT_EQ(*row.first_seen_s, e.first_minute * 60);
      EXPECT_EQ(*row.last_seen_s, e.last_minute * 60);
      std::vector<int64_t> l = e.latencies;
      std::sort(l.begin(), l.end());
      const double exact = static_cast<double>(
          l[std::max<size_t>(1, static_cast<size_t>(std::ceil(0.95 * l.size()))) - 1]);
      ASSERT_TRUE(row.p95_us);
      EXPECT_NEAR(*row.p95_us, exact, exact * 0.01);
    }
  }

  RedisClient client_;
  std::string prefix_;
  BlockKeys keys_;
  int64_t day_;
  ManualClock clock_;
  std::shared_ptr<BlockCache> cache_;
  int batches_ = 0;
};

TEST_F(EndpointCustomersTest, ExactAcrossHostsFlushesDaysAndCompaction) {
  const std::vector<TestRequest> requests = Traffic(6000, 18);
  WriteThroughAggregators(requests, 700);  // ~9 flushes per host
  const auto want = Count(requests, kLegacy);
  ASSERT_GT(want.size(), 30u);

  auto engine = Engine();
  auto before = engine->EndpointCustomers(Params(kLegacy));
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ExpectExact(*before, want);
  EXPECT_TRUE(before->damaged.empty());
  EXPECT_EQ(before->plan.from_s, (day_ - 2) * kDay);

  ASSERT_GT(CompactDays(day_ - 2, day_ + 1), 0u);
  auto after = Engine()->EndpointCustomers(Params(kLegacy));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ExpectExact(*after, want);
  EXPECT_EQ(EndpointCustomersJson(*before), EndpointCustomersJson(*after));

  // More traffic after compaction: a base plus new deltas still merge exactly.
  std::vector<TestRequest> more = Traffic(1500, 19);
  WriteThroughAggregators(more, 400);
  std::vector<TestRequest> all = requests;
  all.insert(all.end(), more.begin(), more.end());
  auto third = Engine()->EndpointCustomers(Params(kLegacy));
  ASSERT_TRUE(third.ok());
  ExpectExact(*third, Count(all, kLegacy));
}

TEST_F(EndpointCustomersTest, LimitKeepsTheTopAndTheTotals) {
  const std::vector<TestRequest> requests = Traffic(2000, 7);
  WriteThroughAggregators(requests, 2000);
  auto a = Engine()->EndpointCustomers(Params("POST /v1/orders", 3));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const auto want = Count(requests, "POST /v1/orders");
  EXPECT_EQ(a->customers.size(), 3u);
  EXPECT_EQ(a->customer_count, want.size());
  std::vector<std::pair<uint64_t, std::string>> ranked;
  for (const auto& [name, e] : want) ranked.emplace_back(e.requests, name);
  std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a->customers[i].customer, ranked[i].second);
  // An endpoint nobody called: an empty list, not an error.
  auto none = Engine()->EndpointCustomers(Params("DELETE /v1/nothing"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->customers.empty());
  EXPECT_EQ(none->total_requests, 0u);
}

// Data written before minutes were kept (v2 blocks of format version 1) knows
// no minute: that day's first or last seen is null, the counts stay exact,
// and a later day with minutes still gives an exact last seen.
TEST_F(EndpointCustomersTest, DaysWrittenWithoutMinutesGiveNullNotAGuess) {
  TestRequest old;  // day - 2, through a batch without minutes
  old.time_us = ((day_ - 2) * kDay + 3600) * 1000000;
  old.endpoint = kLegacy;
  old.customer = "acme";
  Flush(testing::BatchFor({old, old}, false));
  TestRequest fresh = old;  // day, through the aggregator
  fresh.time_us = (day_ * kDay + 7200 + 59) * 1000000;
  WriteThroughAggregators({fresh}, 1);

  auto a = Engine()->EndpointCustomers(Params(kLegacy));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->customers.size(), 1u);
  const EndpointCustomerRow& row = a->customers[0];
  EXPECT_EQ(row.requests, 3u);
  EXPECT_FALSE(row.first_seen_s.has_value());
  ASSERT_TRUE(row.last_seen_s.has_value());
  EXPECT_EQ(*row.last_seen_s, day_ * kDay + 7200);
  const auto j = EndpointCustomersJson(*a);
  EXPECT_TRUE(j["customers"][0]["first_seen"].is_null());
  EXPECT_EQ(j["customers"][0]["last_seen"], FormatIso8601(day_ * kDay + 7200));
  EXPECT_EQ(j["resolution"], "day");

  // The same day mixed: an old delta and a new one of one pair is unknown
  // for that day (a sum never invents a minute), even after compaction.
  TestRequest mixed = old;
  mixed.time_us = (day_ * kDay + 60) * 1000000;
  Flush(testing::BatchFor({mixed}, false));
  CompactDays(day_, day_ + 1);
  auto b = Engine()->EndpointCustomers(Params(kLegacy));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->customers[0].requests, 4u);
  EXPECT_FALSE(b->customers[0].last_seen_s.has_value());
}

TEST_F(EndpointCustomersTest, RefusedOnV1AndWithOtherFilters) {
  QueryEngine v1(&client_, KeySchema(prefix_ + "v1"), RetentionSeconds{}, &clock_);
  auto r = v1.EndpointCustomers(Params(kLegacy));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("storage v2"), std::string::npos);
  QueryParams p = Params(kLegacy);
  p.filter.customer = "acme";
  EXPECT_EQ(Engine()->EndpointCustomers(p).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Engine()->EndpointCustomers(Params("")).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace apimeter

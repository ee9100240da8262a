// QueryEngine against a real redis-server, with data written by the real
// writer of each storage schema (v1: RedisSink; v2: BlockSink with
// StandaloneFlush) and answers checked against values computed directly
// from the same requests. Every test runs on both stores, except the few
// (QueryEngineV1Test) that poke at v1 keys.
#include "query/query_engine.h"

#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "common/time_util.h"
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

constexpr int64_t kMin = 60, kHour = 3600, kDay = 86400;


// Percentile (ms in JSON) within 1% of the exact nearest-rank value (µs),
// plus the 0.0005 ms rounding of the JSON.
void ExpectPercentile(const json& ms, const Expected& e, double p) {
  ASSERT_TRUE(ms.is_number()) << "p" << p;
  const double exact_ms = e.Percentile(p) / 1000.0;
  EXPECT_NEAR(ms.get<double>(), exact_ms, exact_ms * 0.01 + 0.0005 + 1e-9) << "p" << p;
}

void ExpectMatches(const json& j, const Expected& e) {
  EXPECT_EQ(j.at("requests").get<uint64_t>(), e.requests);
  EXPECT_EQ(j.at("errors_4xx").get<uint64_t>(), e.e4);
  EXPECT_EQ(j.at("errors_5xx").get<uint64_t>(), e.e5);
  if (j.contains("bytes_in")) {
    EXPECT_EQ(j.at("bytes_in").get<uint64_t>(), e.bytes_in);
  }
  EXPECT_EQ(j.at("bytes_out").get<uint64_t>(), e.bytes_out);
  const json& lat = j.at("latency_ms");
  ExpectPercentile(lat.at("p50"), e, 50);
  ExpectPercentile(lat.at("p90"), e, 90);
  ExpectPercentile(lat.at("p95"), e, 95);
  ExpectPercentile(lat.at("p99"), e, 99);
  EXPECT_DOUBLE_EQ(lat.at("max").get<double>(), static_cast<double>(e.latencies.back()) / 1000.0);
  double sum = 0;
  for (int64_t v : e.latencies) sum += static_cast<double>(v);
  EXPECT_NEAR(lat.at("avg").get<double>(), sum / static_cast<double>(e.latencies.size()) / 1000.0,
              0.0005 + 1e-9);  // rounding to whole µs
}

enum class Store { kV1, kV2 };

std::string StoreName(const ::testing::TestParamInfo<Store>& info) {
  return info.param == Store::kV1 ? "v1" : "v2";
}

class QueryEngineFixture : public ::testing::Test {
 protected:
  explicit QueryEngineFixture(Store store)
      : store_(store),
        client_(testing::PatientEndpoint()),
        schema_(TestRedis::Get().UniquePrefix("query")),
        // Yesterday, by the real clock: the sink sets EXPIREAT from the
        // bucket's time, so the data must be recent for Redis too.
        day_(FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_((day_ + 1) * kDay * 1000000 + 12 * kHour * 1000000LL),
        cache_(std::make_shared<BlockCache>(kDefaultBlockCacheBytes)),
        engine_owner_(MakeEngine(&clock_)),
        engine_(*engine_owner_) {}

  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  std::unique_ptr<QueryEngine> MakeEngine(const Clock* clock) {
    if (store_ == Store::kV1) {
      return std::make_unique<QueryEngine>(&client_, schema_, RetentionSeconds{}, clock);
    }
    return std::make_unique<QueryEngine>(
        MakeV2SeriesStore(&client_, BlockKeys(schema_.prefix()), cache_), RetentionSeconds{},
        clock);
  }

  int64_t At(int h, int m = 0, int s = 0) const { return day_ * kDay + h * kHour + m * kMin + s; }

  void Write(FlushBatch batch) {
    Status st;
    if (store_ == Store::kV1) {
      RedisSink sink(&client_, schema_, SinkOptions{}, &clock_);
      st = sink.Flush(batch);
    } else {
      StandaloneFlush protocol(&client_, BlockKeys(schema_.prefix()));
      BlockSink sink(&client_, &protocol, BlockKeys(schema_.prefix()), SinkOptions{}, &clock_);
      batch.id = "query-test-" + std::to_string(++batches_);
      st = sink.Flush(batch);
    }
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Write(const std::vector<TestRequest>& requests, bool with_slow = true) {
    Write(testing::BatchFor(requests, with_slow));
  }

  json Ok(Result<json> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_FALSE(r->contains("partial")) << "nothing is damaged here";
    }
    return r.ok() ? *r : json();
  }

  QueryParams Params(int64_t from, int64_t to) const {
    QueryParams p;
    p.from_s = from;
    p.to_s = to;
    return p;
  }

  Store store_;
  RedisClient client_;
  KeySchema schema_;
  int64_t day_;
  ManualClock clock_;
  std::shared_ptr<BlockCache> cache_;
  std::unique_ptr<QueryEngine> engine_owner_;
  QueryEngine& engine_;
  int batches_ = 0;
};

class QueryEngineTest : public QueryEngineFixture, public ::testing::WithParamInterface<Store> {
 protected:
  QueryEngineTest() : QueryEngineFixture(GetParam()) {}
};
INSTANTIATE_TEST_SUITE_P(Stores, QueryEngineTest, ::testing::Values(Store::kV1, Store::kV2),
                         StoreName);

// Tests of v1's own keys (hashes, max sets, command counts).
class QueryEngineV1Test : public QueryEngineFixture {
 protected:
  QueryEngineV1Test() : QueryEngineFixture(Store::kV1) {}
};

TEST_P(QueryEngineTest, OverviewIsExactForAnUnalignedRange) {
  const auto requests = testing::MixedRequests(At(9), At(15), 6000, 1);
  Write(requests);
  Write(testing::RejectedBatch("web1", At(11, 30), 7));
  Write(testing::RejectedBatch("web2", At(16), 5));  // outside the range

  const json j = Ok(ToJson(engine_.Overview(Params(At(10, 7, 30), At(13, 42, 10)))));
  // Minute granularity: [10:07, 13:43).
  EXPECT_EQ(j["from"], FormatIso8601(At(10, 7)));
  EXPECT_EQ(j["to"], FormatIso8601(At(13, 43)));
  EXPECT_EQ(j["adjusted"], true);
  const Expected e = Compute(requests, At(10, 7), At(13, 43));
  ASSERT_GT(e.requests, 2000u);
  ExpectMatches(j, e);
  for (const auto& [code, n] : e.status) EXPECT_EQ(j["status"][std::to_string(code)], n) << code;
  EXPECT_EQ(j["status"].size(), e.status.size());
  EXPECT_EQ(j["status_class"]["2xx"], e.status.at(200) + e.status.at(201));
  EXPECT_EQ(j["status_class"]["3xx"], e.status.at(304));
  EXPECT_EQ(j["status_class"]["4xx"], e.e4);
  EXPECT_EQ(j["status_class"]["5xx"], e.e5);
  EXPECT_EQ(j["status_class"]["1xx"], 0);
  EXPECT_EQ(j["rejected"], 7);
  EXPECT_EQ(j["latency_count"], e.latencies.size());
  EXPECT_NEAR(j["error_rate"].get<double>(),
              static_cast<double>(e.e4 + e.e5) / static_cast<double>(e.requests), 1e-6);
  EXPECT_NEAR(j["rps"].get<double>(), static_cast<double>(e.requests) / (216 * 60.0), 0.001);
  // Minutes at both edges, hours in the middle.
  ASSERT_EQ(j["plan"].size(), 3u);
  EXPECT_EQ(j["plan"][1]["tier"], "hour");
  EXPECT_EQ(j["plan"][1]["buckets"], 2);
}

TEST_P(QueryEngineTest, OverviewOverWholeDaysUsesTheDayTierAndMatches) {
  // Two days of data; the plan for [day-1 00:00, now) needs a day bucket.
  auto requests =
      testing::MixedRequests((day_ - 1) * kDay, (day_ + 1) * kDay + 11 * kHour, 3000, 2);
  Write(requests);
  // 05:17 two days before now (12:00) is past the 48h minute retention, so
  // the start is read from the hour tier and reported as 05:00.
  const int64_t from = (day_ - 1) * kDay + 5 * kHour + 17 * kMin;
  const int64_t effective_from = (day_ - 1) * kDay + 5 * kHour;
  const int64_t to = clock_.NowSeconds();
  const json j = Ok(ToJson(engine_.Overview(Params(from, to))));
  bool has_day = false;
  for (const json& run : j["plan"]) has_day |= run["tier"] == "day";
  EXPECT_TRUE(has_day) << j["plan"].dump();
  EXPECT_EQ(j["from"], FormatIso8601(effective_from));
  EXPECT_EQ(j["to"], FormatIso8601(to));
  ExpectMatches(j, Compute(requests, effective_from, to));
}

TEST_P(QueryEngineTest, ExpiredMinutesAreReportedAsTheWiderRange) {
  // Now is 3 days after the data: minute buckets (48h) are past retention,
  // so the range is read from hours and reported as whole hours.
  const auto requests = testing::MixedRequests(At(9), At(15), 2000, 3);
  Write(requests);
  ManualClock later((day_ + 3) * kDay * 1000000);
  const json j = Ok(ToJson(MakeEngine(&later)->Overview(Params(At(10, 7, 30), At(13, 42, 10)))));
  EXPECT_EQ(j["from"], FormatIso8601(At(10)));
  EXPECT_EQ(j["to"], FormatIso8601(At(14)));
  EXPECT_EQ(j["requested_from"], FormatIso8601(At(10, 7, 30)));
  ExpectMatches(j, Compute(requests, At(10), At(14)));
}

TEST_P(QueryEngineTest, FiltersReadTheMatchingSeries) {
  const auto requests = testing::MixedRequests(At(9), At(12), 4000, 4);
  Write(requests);
  const int64_t from = At(9, 30), to = At(11, 45);
  struct Case {
    QueryFilter filter;
    std::function<bool(const TestRequest&)> keep;
  };
  const std::vector<Case> cases = {
      {{"web2", "", ""}, [](const TestRequest& r) { return r.host == "web2"; }},
      {{"", "POST /v1/orders", ""},
       [](const TestRequest& r) { return r.endpoint == "POST /v1/orders"; }},
      {{"", "", "globex"}, [](const TestRequest& r) { return r.customer == "globex"; }},
      {{"", "GET /v1/users", "acme"},
       [](const TestRequest& r) { return r.customer == "acme" && r.endpoint == "GET /v1/users"; }},
  };
  for (const Case& c : cases) {
    QueryParams p = Params(from, to);
    p.filter = c.filter;
    const json j = Ok(ToJson(engine_.Overview(p)));
    // Customer × endpoint series exist per UTC day only: the whole day.
    const bool day_only = !c.filter.customer.empty() && !c.filter.endpoint.empty();
    const Expected e = day_only ? Compute(requests, day_ * kDay, (day_ + 1) * kDay, c.keep)
                                : Compute(requests, from, to, c.keep);
    SCOPED_TRACE(j["filter"].dump());
    ASSERT_GT(e.requests, 50u);
    ExpectMatches(j, e);
    EXPECT_EQ(j.contains("resolution"), day_only);
    const json ts = Ok(ToJson(engine_.Timeseries(p)));
    uint64_t sum = 0;
    for (const json& point : ts["points"]) sum += point["requests"].get<uint64_t>();
    EXPECT_EQ(sum, e.requests);
  }
}

TEST_P(QueryEngineTest, HostCannotBeCombinedWithEndpointOrCustomer) {
  QueryParams p = Params(At(9), At(10));
  p.filter = {"web1", "GET /v1/users", ""};
  for (auto r : {ToJson(engine_.Overview(p)), ToJson(engine_.Timeseries(p))}) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(),
              "filter host cannot be combined with endpoint/customer; per-host series are totals "
              "only");
  }
  p.filter = {"web1", "", ""};
  EXPECT_EQ(ToJson(engine_.Endpoints(p)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ToJson(engine_.Customers(p)).status().code(), StatusCode::kInvalidArgument);
  p.filter = {"", "GET /v1/users", ""};
  auto c = ToJson(engine_.Customers(p));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("endpoint"), std::string::npos);
}

TEST_P(QueryEngineTest, EndpointsAreTopNByRequestsWithShares) {
  const auto requests = testing::MixedRequests(At(9), At(12), 5000, 5);
  Write(requests);
  const int64_t from = At(9, 10), to = At(11, 50);
  QueryParams p = Params(from, to);
  p.limit = 3;
  const json j = Ok(ToJson(engine_.Endpoints(p)));
  const Expected all = Compute(requests, from, to);
  EXPECT_EQ(j["total_requests"], all.requests);
  const json& rows = j["endpoints"];
  ASSERT_EQ(rows.size(), 3u);
  const char* order[] = {"GET /v1/orders/:id", "POST /v1/orders", "GET /v1/users"};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(order[i]);
    EXPECT_EQ(rows[i]["endpoint"], order[i]);
    const Expected e =
        Compute(requests, from, to, [&](const TestRequest& r) { return r.endpoint == order[i]; });
    ExpectMatches(rows[i], e);
    EXPECT_NEAR(rows[i]["share"].get<double>(),
                static_cast<double>(e.requests) / static_cast<double>(all.requests), 1e-6);
  }
  EXPECT_GT(rows[0]["requests"].get<uint64_t>(), rows[1]["requests"].get<uint64_t>());
}

TEST_P(QueryEngineTest, EndpointsOfOneCustomerUseItsIndexAndTotal) {
  const auto requests = testing::MixedRequests(At(9), At(12), 5000, 6);
  Write(requests);
  const int64_t from = At(9), to = At(12);
  QueryParams p = Params(from, to);
  p.filter.customer = "globex";
  const json j = Ok(ToJson(engine_.Endpoints(p)));
  const Expected total =
      Compute(requests, from, to, [](const TestRequest& r) { return r.customer == "globex"; });
  EXPECT_EQ(j["total_requests"], total.requests);
  ASSERT_EQ(j["endpoints"].size(), 4u);
  uint64_t sum = 0;
  double shares = 0;
  for (const json& row : j["endpoints"]) {
    const std::string ep = row["endpoint"];
    const Expected e = Compute(requests, from, to, [&](const TestRequest& r) {
      return r.customer == "globex" && r.endpoint == ep;
    });
    ExpectMatches(row, e);
    sum += row["requests"].get<uint64_t>();
    shares += row["share"].get<double>();
  }
  EXPECT_EQ(sum, total.requests);
  EXPECT_NEAR(shares, 1.0, 1e-5);
}

TEST_P(QueryEngineTest, TopNTiesAreBrokenByName) {
  std::vector<TestRequest> requests;
  for (const char* ep : {"GET /b", "GET /a", "GET /c", "GET /d"}) {
    const int n = std::string(ep) == "GET /d" ? 5 : 3;
    for (int i = 0; i < n; ++i) {
      TestRequest r;
      r.time_us = (At(10, 1) + i) * 1000000;
      r.endpoint = ep;
      r.customer = std::string("cust-") + ep[5];
      r.latency_us = 1000;
      requests.push_back(r);
    }
  }
  Write(requests);
  QueryParams p = Params(At(10), At(11));
  p.limit = 3;
  const json j = Ok(ToJson(engine_.Endpoints(p)));
  ASSERT_EQ(j["endpoints"].size(), 3u);
  EXPECT_EQ(j["endpoints"][0]["endpoint"], "GET /d");
  EXPECT_EQ(j["endpoints"][1]["endpoint"], "GET /a");
  EXPECT_EQ(j["endpoints"][2]["endpoint"], "GET /b");
  EXPECT_DOUBLE_EQ(j["endpoints"][0]["share"].get<double>(), 0.357143);  // 5/14, 6 decimals
  const json c = Ok(ToJson(engine_.Customers(p)));
  EXPECT_EQ(c["customers"][0]["customer"], "cust-d");
  EXPECT_EQ(c["customers"][1]["customer"], "cust-a");
}

TEST_P(QueryEngineTest, CustomersAreTopNWithBytes) {
  const auto requests = testing::MixedRequests(At(9), At(12), 5000, 7);
  Write(requests);
  const int64_t from = At(9), to = At(12);
  QueryParams p = Params(from, to);
  const json j = Ok(ToJson(engine_.Customers(p)));
  const json& rows = j["customers"];
  ASSERT_EQ(rows.size(), 4u);
  const char* order[] = {"acme", "globex", "k_0123456789ab", "anonymous"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rows[i]["customer"], order[i]);
    const Expected e =
        Compute(requests, from, to, [&](const TestRequest& r) { return r.customer == order[i]; });
    ExpectMatches(rows[i], e);
  }
  p.filter.customer = "globex";
  const json one = Ok(ToJson(engine_.Customers(p)));
  ASSERT_EQ(one["customers"].size(), 1u);
  EXPECT_EQ(one["customers"][0], rows[1]);
}

TEST_P(QueryEngineTest, TimeseriesHasEveryStepAndNullsForEmptyOnes) {
  std::vector<TestRequest> requests;
  for (int i = 0; i < 10; ++i) {  // 10:00..10:04 busy, 10:05..10:09 empty, 10:10 one
    TestRequest r;
    r.time_us = (At(10, i % 5, 7)) * 1000000;
    r.status = i == 3 ? 503 : i == 4 ? 404 : 200;
    r.latency_us = 1000 * (i + 1);
    requests.push_back(r);
  }
  TestRequest last;
  last.time_us = At(10, 10, 59) * 1000000;
  last.latency_us = 7777;
  requests.push_back(last);
  Write(requests);

  const json j = Ok(ToJson(engine_.Timeseries(Params(At(10), At(10, 15)))));
  EXPECT_EQ(j["step_s"], 60);
  EXPECT_EQ(j["step_chosen"], true);
  const json& pts = j["points"];
  ASSERT_EQ(pts.size(), 15u);
  EXPECT_EQ(pts[0]["t"], FormatIso8601(At(10)));
  EXPECT_EQ(pts[3]["requests"], 2);
  EXPECT_EQ(pts[3]["errors_5xx"], 1);
  EXPECT_EQ(pts[4]["errors_4xx"], 1);
  for (int i = 5; i < 10; ++i) {
    EXPECT_EQ(pts[i]["requests"], 0) << i;
    EXPECT_TRUE(pts[i]["p50"].is_null()) << i;
    EXPECT_TRUE(pts[i]["p99"].is_null()) << i;
  }
  EXPECT_EQ(pts[10]["requests"], 1);
  EXPECT_NEAR(pts[10]["p95"].get<double>(), 7.777, 7.777 * 0.01);

  QueryParams p = Params(At(10), At(10, 15));
  p.step_s = 300;
  const json five = Ok(ToJson(engine_.Timeseries(p)));
  ASSERT_EQ(five["points"].size(), 3u);
  EXPECT_EQ(five["points"][0]["requests"], 10);
  EXPECT_EQ(five["points"][1]["requests"], 0);
  EXPECT_TRUE(five["points"][1]["p50"].is_null());
  EXPECT_EQ(five["points"][2]["requests"], 1);
  // The 10th smallest of 1..10 ms is 10 ms.
  EXPECT_NEAR(five["points"][0]["p99"].get<double>(), 10.0, 0.1);
  p.step_s = 90;
  auto bad = ToJson(engine_.Timeseries(p));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("step_s"), std::string::npos);
}

TEST_P(QueryEngineTest, SlowListsTheSlowestInRangeNewestTieFirst) {
  std::vector<TestRequest> requests;
  const int64_t lat[] = {5000, 900000, 120000, 700000, 300000};
  for (int i = 0; i < 5; ++i) {
    TestRequest r;
    r.time_us = (At(10, 10 * i)) * 1000000 + 123456;
    r.endpoint = i % 2 ? "GET /slow" : "GET /fast";
    r.customer = "acme";
    r.host = i == 1 ? "web2" : "web1";
    r.status = 200 + i;
    r.latency_us = lat[i];
    requests.push_back(r);
  }
  TestRequest outside = requests[0];
  outside.time_us = At(12) * 1000000;
  outside.latency_us = 9000000;
  requests.push_back(outside);
  Write(requests);

  QueryParams p = Params(At(10), At(11));
  p.limit = 3;
  const json j = Ok(ToJson(engine_.Slow(p)));
  const json& rows = j["requests"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["latency_ms"], 900.0);
  EXPECT_EQ(rows[0]["endpoint"], "GET /slow");
  EXPECT_EQ(rows[0]["host"], "web2");
  EXPECT_EQ(rows[0]["customer"], "acme");
  EXPECT_EQ(rows[0]["status"], 201);
  EXPECT_EQ(rows[0]["time"], FormatIso8601(At(10, 10)));
  EXPECT_EQ(rows[0]["time_us"], At(10, 10) * 1000000 + 123456);
  EXPECT_EQ(rows[1]["latency_ms"], 700.0);
  EXPECT_EQ(rows[2]["latency_ms"], 300.0);

  p.limit = 10;
  p.filter.endpoint = "GET /fast";
  const json fast = Ok(ToJson(engine_.Slow(p)));
  ASSERT_EQ(fast["requests"].size(), 3u);
  EXPECT_EQ(fast["requests"][0]["latency_ms"], 300.0);
  EXPECT_EQ(fast["requests"][2]["latency_ms"], 5.0);
}

TEST_P(QueryEngineTest, NoDataGivesNullsNotZeros) {
  const json j = Ok(ToJson(engine_.Overview(Params(At(3), At(4)))));
  EXPECT_EQ(j["requests"], 0);
  EXPECT_TRUE(j["error_rate"].is_null());
  for (const char* k : {"avg", "p50", "p90", "p95", "p99", "max"}) {
    EXPECT_TRUE(j["latency_ms"][k].is_null()) << k;
  }
  EXPECT_EQ(j["rps"], 0.0);
  EXPECT_TRUE(Ok(ToJson(engine_.Endpoints(Params(At(3), At(4)))))["endpoints"].empty());
  EXPECT_TRUE(Ok(ToJson(engine_.Slow(Params(At(3), At(4)))))["requests"].empty());
  // A range entirely in the future has no elapsed seconds: rps is null.
  const int64_t now = clock_.NowSeconds();
  EXPECT_TRUE(Ok(ToJson(engine_.Overview(Params(now + kHour, now + 2 * kHour))))["rps"].is_null());
}

TEST_P(QueryEngineTest, RequestsWithoutLatencyGiveNullPercentilesButCounts) {
  TestRequest r;
  r.time_us = At(10, 1) * 1000000;
  r.latency_us = -1;
  Write({r, r});
  const json j = Ok(ToJson(engine_.Overview(Params(At(10), At(11)))));
  EXPECT_EQ(j["requests"], 2);
  EXPECT_EQ(j["error_rate"], 0.0);
  EXPECT_TRUE(j["latency_ms"]["p50"].is_null());
  EXPECT_TRUE(j["latency_ms"]["max"].is_null());
  EXPECT_TRUE(j["latency_ms"]["avg"].is_null());
}

TEST_P(QueryEngineTest, BadParametersAreInvalidArgument) {
  auto expect_invalid = [](const Result<json>& r, const std::string& needle) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_invalid(ToJson(engine_.Overview(Params(At(10), At(10)))), "from must be before to");
  expect_invalid(ToJson(engine_.Overview(Params(At(10), At(9)))), "from must be before to");
  expect_invalid(ToJson(engine_.Overview(Params(At(10) - 401 * kDay, At(10)))), "day retention");
  for (int64_t limit : {0, -1, 1001}) {
    QueryParams p = Params(At(9), At(10));
    p.limit = limit;
    expect_invalid(ToJson(engine_.Endpoints(p)), "limit");
    expect_invalid(ToJson(engine_.Customers(p)), "limit");
    expect_invalid(ToJson(engine_.Slow(p)), "limit");
  }
}

TEST_P(QueryEngineTest, SeriesTotalMatchesOverview) {
  const auto requests = testing::MixedRequests(At(9), At(12), 2000, 8);
  Write(requests);
  auto total = engine_.SeriesTotal(SeriesKind::kEndpoint, "GET /v1/users", At(9), At(12));
  ASSERT_TRUE(total.ok());
  const Expected e = Compute(requests, At(9), At(12),
                             [](const TestRequest& r) { return r.endpoint == "GET /v1/users"; });
  EXPECT_EQ(total->requests, e.requests);
  EXPECT_EQ(total->latency_max_us, e.latencies.back());
  EXPECT_EQ(total->latency_count, e.latencies.size());
}

TEST_F(QueryEngineV1Test, AHashThatBreaksTheSchemaIsAParseErrorNotACrash) {
  const std::string key = schema_.SeriesKey(Tier::kMinute, At(10, 1) / 60, SeriesKind::kAll, "");
  ASSERT_TRUE(client_.Command({"HSET", key, "bogus", "1"}).ok());
  ASSERT_TRUE(client_.Command({"EXPIRE", key, "600"}).ok());
  auto r = ToJson(engine_.Overview(Params(At(10), At(10, 5))));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  EXPECT_NE(r.status().message().find("bogus"), std::string::npos);
}

TEST_P(QueryEngineTest, InvalidUtf8NamesStillDump) {
  TestRequest r;
  r.time_us = At(10, 1) * 1000000;
  r.endpoint = "GET /v1/\xff\xfe";
  r.latency_us = 10;
  Write({r});
  const json j = Ok(ToJson(engine_.Endpoints(Params(At(10), At(11)))));
  ASSERT_EQ(j["endpoints"].size(), 1u);
  EXPECT_NO_THROW((void)j.dump());
  EXPECT_EQ(j["endpoints"][0]["endpoint"], "GET /v1/\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_NO_THROW((void)RenderTable("endpoints", j));
}

// --- Customer × endpoint series: written per UTC day only ---

// The data spans yesterday 20:00 .. today 04:00 (today = day_), so every
// day-rounded answer differs from the requested range.
class CustomerEndpointDayTest : public QueryEngineTest {
 protected:
  void SetUp() override {
    QueryEngineTest::SetUp();
    requests_ = testing::MixedRequests(At(-4), At(28), 6000, 11);
    Write(requests_);
  }
  static bool AcmeUsers(const TestRequest& r) {
    return r.customer == "acme" && r.endpoint == "GET /v1/users";
  }
  static void ExpectDayResolution(const json& j) {
    EXPECT_EQ(j["resolution"], "day");
    EXPECT_NE(j["note"].get<std::string>().find("per UTC day only"), std::string::npos);
  }
  std::vector<TestRequest> requests_;
};
INSTANTIATE_TEST_SUITE_P(Stores, CustomerEndpointDayTest,
                         ::testing::Values(Store::kV1, Store::kV2), StoreName);

TEST_P(CustomerEndpointDayTest, OverviewIsRoundedOutwardToWholeDays) {
  QueryParams p = Params(At(10, 7, 30), At(13, 42, 10));
  p.filter = {"", "GET /v1/users", "acme"};
  const json j = Ok(ToJson(engine_.Overview(p)));
  EXPECT_EQ(j["from"], FormatIso8601(day_ * kDay));
  EXPECT_EQ(j["to"], FormatIso8601((day_ + 1) * kDay));
  EXPECT_EQ(j["requested_from"], FormatIso8601(At(10, 7, 30)));
  EXPECT_EQ(j["requested_to"], FormatIso8601(At(13, 42, 10)));
  EXPECT_EQ(j["adjusted"], true);
  ASSERT_EQ(j["plan"].size(), 1u);
  EXPECT_EQ(j["plan"][0]["tier"], "day");
  EXPECT_EQ(j["plan"][0]["buckets"], 1);
  ExpectDayResolution(j);
  const Expected e = Compute(requests_, day_ * kDay, (day_ + 1) * kDay, AcmeUsers);
  ASSERT_GT(e.requests, 100u);
  ExpectMatches(j, e);
  // Elapsed seconds of the reported day (now is the next day's noon).
  EXPECT_EQ(j["rps_seconds"], kDay);

  // The customer alone still has minutes: the request range as before.
  p.filter = {"", "", "acme"};
  const json c = Ok(ToJson(engine_.Overview(p)));
  EXPECT_EQ(c["from"], FormatIso8601(At(10, 7)));
  EXPECT_EQ(c["to"], FormatIso8601(At(13, 43)));
  EXPECT_FALSE(c.contains("resolution"));
  EXPECT_FALSE(c.contains("note"));
}

TEST_P(CustomerEndpointDayTest, RangeAcrossMidnightReadsBothDays) {
  QueryParams p = Params(At(-2), At(2));
  p.filter = {"", "GET /v1/users", "acme"};
  const json j = Ok(ToJson(engine_.Overview(p)));
  EXPECT_EQ(j["from"], FormatIso8601((day_ - 1) * kDay));
  EXPECT_EQ(j["to"], FormatIso8601((day_ + 1) * kDay));
  ASSERT_EQ(j["plan"].size(), 1u);
  EXPECT_EQ(j["plan"][0]["buckets"], 2);
  ExpectMatches(j, Compute(requests_, (day_ - 1) * kDay, (day_ + 1) * kDay, AcmeUsers));
  // Aligned days are not adjusted and still say why they are days.
  const json aligned = Ok(ToJson(engine_.Overview([&] {
    QueryParams q = Params((day_ - 1) * kDay, (day_ + 1) * kDay);
    q.filter = p.filter;
    return q;
  }())));
  EXPECT_EQ(aligned["adjusted"], false);
  ExpectDayResolution(aligned);
  EXPECT_EQ(aligned["requests"], j["requests"]);
}

TEST_P(CustomerEndpointDayTest, TimeseriesHasOnePointPerDay) {
  QueryParams p = Params(At(-2), At(2));
  p.filter = {"", "GET /v1/users", "acme"};
  const json j = Ok(ToJson(engine_.Timeseries(p)));
  EXPECT_EQ(j["step_s"], kDay);
  EXPECT_EQ(j["step_chosen"], true);
  EXPECT_EQ(j["from"], FormatIso8601((day_ - 1) * kDay));
  EXPECT_EQ(j["to"], FormatIso8601((day_ + 1) * kDay));
  ExpectDayResolution(j);
  ASSERT_EQ(j["points"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const int64_t t = (day_ - 1 + i) * kDay;
    EXPECT_EQ(j["points"][i]["t"], FormatIso8601(t));
    const Expected e = Compute(requests_, t, t + kDay, AcmeUsers);
    EXPECT_EQ(j["points"][i]["requests"], e.requests);
    EXPECT_EQ(j["points"][i]["bytes_out"], e.bytes_out);
    ExpectPercentile(j["points"][i]["p95"], e, 95);
  }
  // A 2-day step sits on the 2-day grid since the epoch.
  p.step_s = 2 * kDay;
  const json two = Ok(ToJson(engine_.Timeseries(p)));
  const int64_t grid_from = FloorDiv(At(-2), 2 * kDay) * 2 * kDay;
  const int64_t grid_to = CeilDiv(At(2), 2 * kDay) * 2 * kDay;
  EXPECT_EQ(two["from"], FormatIso8601(grid_from));
  EXPECT_EQ(two["to"], FormatIso8601(grid_to));
  ASSERT_EQ(two["points"].size(), static_cast<size_t>((grid_to - grid_from) / (2 * kDay)));
  uint64_t sum = 0;
  for (const json& point : two["points"]) sum += point["requests"].get<uint64_t>();
  EXPECT_EQ(sum, Compute(requests_, grid_from, grid_to, AcmeUsers).requests);

  // Without the ce filter the same range keeps minute points.
  p.step_s = 0;
  p.filter = {"", "GET /v1/users", ""};
  const json e = Ok(ToJson(engine_.Timeseries(p)));
  EXPECT_EQ(e["step_s"], 60);
  EXPECT_FALSE(e.contains("resolution"));
}

TEST_P(CustomerEndpointDayTest, TimeseriesStepFinerThanADayIsInvalid) {
  QueryParams p = Params(At(10), At(12));
  p.filter = {"", "GET /v1/users", "acme"};
  for (int64_t step : {60, 3600, 43200}) {
    p.step_s = step;
    auto r = ToJson(engine_.Timeseries(p));
    ASSERT_FALSE(r.ok()) << step;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("step_s must be a multiple of 86400 (got " + std::to_string(step) + ")"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("customer + endpoint"), std::string::npos) << m;
  }
}

TEST_P(CustomerEndpointDayTest, EndpointsOfACustomerCoverWholeDays) {
  QueryParams p = Params(At(1, 15), At(3, 10));
  p.filter.customer = "globex";
  const json j = Ok(ToJson(engine_.Endpoints(p)));
  EXPECT_EQ(j["from"], FormatIso8601(day_ * kDay));
  EXPECT_EQ(j["to"], FormatIso8601((day_ + 1) * kDay));
  EXPECT_EQ(j["adjusted"], true);
  EXPECT_EQ(j["plan"][0]["tier"], "day");
  ExpectDayResolution(j);
  auto globex = [](const TestRequest& r) { return r.customer == "globex"; };
  // The share's denominator covers the same whole day.
  EXPECT_EQ(j["total_requests"],
            Compute(requests_, day_ * kDay, (day_ + 1) * kDay, globex).requests);
  ASSERT_EQ(j["endpoints"].size(), 4u);
  for (const json& row : j["endpoints"]) {
    const std::string ep = row["endpoint"];
    SCOPED_TRACE(ep);
    ExpectMatches(row,
                  Compute(requests_, day_ * kDay, (day_ + 1) * kDay, [&](const TestRequest& r) {
                    return r.customer == "globex" && r.endpoint == ep;
                  }));
  }
  // One endpoint of the customer: also whole days.
  p.filter.endpoint = "POST /v1/orders";
  const json one = Ok(ToJson(engine_.Endpoints(p)));
  ExpectDayResolution(one);
  ASSERT_EQ(one["endpoints"].size(), 1u);
  EXPECT_EQ(one["endpoints"][0]["requests"],
            Compute(requests_, day_ * kDay, (day_ + 1) * kDay, [](const TestRequest& r) {
              return r.customer == "globex" && r.endpoint == "POST /v1/orders";
            }).requests);
}

TEST_P(CustomerEndpointDayTest, QueriesWithoutCustomerEndpointSeriesAreUnchanged) {
  const QueryParams p = Params(At(1, 15), At(3, 10));
  const json endpoints = Ok(ToJson(engine_.Endpoints(p)));
  EXPECT_EQ(endpoints["from"], FormatIso8601(At(1, 15)));
  EXPECT_EQ(endpoints["to"], FormatIso8601(At(3, 10)));
  EXPECT_FALSE(endpoints.contains("resolution"));
  const json customers = Ok(ToJson(engine_.Customers(p)));
  EXPECT_EQ(customers["from"], FormatIso8601(At(1, 15)));
  EXPECT_FALSE(customers.contains("resolution"));
  QueryParams one = p;
  one.filter.customer = "acme";
  const json c = Ok(ToJson(engine_.Customers(one)));
  EXPECT_EQ(c["from"], FormatIso8601(At(1, 15)));
  EXPECT_EQ(c["customers"][0]["requests"],
            Compute(requests_, At(1, 15), At(3, 10), [](const TestRequest& r) {
              return r.customer == "acme";
            }).requests);
  const json slow = Ok(ToJson(engine_.Slow(one)));
  EXPECT_EQ(slow["from"], FormatIso8601(At(1, 15)));
  EXPECT_FALSE(slow.contains("resolution"));
}

TEST_P(CustomerEndpointDayTest, SeriesTotalAndPlanSeriesUseWholeDays) {
  const std::string name = std::string("acme") + kNameSeparator + "GET /v1/users";
  auto plan = engine_.PlanSeries(SeriesKind::kCustomerEndpoint, At(10), At(11));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->from_s, day_ * kDay);
  EXPECT_EQ(plan->to_s, (day_ + 1) * kDay);
  auto total = engine_.SeriesTotal(SeriesKind::kCustomerEndpoint, name, At(10), At(11));
  ASSERT_TRUE(total.ok()) << total.status().ToString();
  const Expected e = Compute(requests_, day_ * kDay, (day_ + 1) * kDay, AcmeUsers);
  EXPECT_EQ(total->requests, e.requests);
  EXPECT_EQ(total->latency_max_us, e.latencies.back());
  // Other kinds keep minute plans.
  auto customer_plan = engine_.PlanSeries(SeriesKind::kCustomer, At(10), At(11));
  ASSERT_TRUE(customer_plan.ok());
  EXPECT_EQ(customer_plan->from_s, At(10));
  EXPECT_EQ(customer_plan->to_s, At(11));
}

TEST_F(QueryEngineV1Test, TheWriterKeepsNoMinuteOrHourCustomerEndpointSeries) {
  Write(testing::MixedRequests(At(-4), At(28), 600, 11));
  // Guards the premise of this suite: a plan that used the minute or hour tier
  // for ce series would read nothing.
  const std::string name = std::string("acme") + kNameSeparator + "GET /v1/users";
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    const int64_t bucket = At(1) / TierSeconds(tier);
    auto r = client_.Command(
        {"EXISTS", schema_.SeriesKey(tier, bucket, SeriesKind::kCustomerEndpoint, name)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->integer, 0);
  }
  auto r = client_.Command(
      {"EXISTS", schema_.SeriesKey(Tier::kDay, day_, SeriesKind::kCustomerEndpoint, name)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->integer, 1);
}

// --- Max latencies: one ZMSCORE per (bucket, shard) ---

TEST_F(QueryEngineV1Test, TopNReadsMaxScoresWithOneCommandPerBucketAndShard) {
  const auto requests = testing::MixedRequests(At(10), At(11), 3000, 12);
  Write(requests);
  QueryParams p = Params(At(10), At(11));  // one hour bucket
  p.limit = 4;
  const uint64_t before = client_.commands_sent();
  const json j = Ok(ToJson(engine_.Endpoints(p)));
  const uint64_t commands = client_.commands_sent() - before;
  ASSERT_EQ(j["endpoints"].size(), 4u);
  std::set<int> shards = {KeySchema::ShardOf(SeriesKind::kAll, "")};
  for (const json& row : j["endpoints"]) {
    const std::string ep = row["endpoint"];
    shards.insert(KeySchema::ShardOf(SeriesKind::kEndpoint, ep));
    ExpectMatches(row, Compute(requests, At(10), At(11),
                               [&](const TestRequest& r) { return r.endpoint == ep; }));
  }
  // 8 index reads, 5 hashes, one ZMSCORE per shard touched (not 5 ZSCOREs).
  EXPECT_EQ(commands, 8u + 5u + shards.size());

  // A customer's endpoints all live in its shard: one ZMSCORE for the day.
  p.filter.customer = "acme";
  const uint64_t before_ce = client_.commands_sent();
  const json ce = Ok(ToJson(engine_.Endpoints(p)));
  EXPECT_EQ(ce["endpoints"].size(), 4u);
  EXPECT_EQ(client_.commands_sent() - before_ce, 1u + 5u + 1u);
}

TEST_P(QueryEngineTest, ManySeriesInOneShardSplitTheirMaxReadsAndStayExact) {
  // 300 endpoints of one customer: more than kMaxScoresPerCommand members in
  // the customer's shard; some endpoints log no latency (a nil score).
  std::vector<TestRequest> requests;
  for (int e = 0; e < 300; ++e) {
    for (int k = 0; k < 1 + e % 3; ++k) {
      TestRequest r;
      r.time_us = (At(10, e % 60) + k) * 1000000;
      r.endpoint = "GET /e" + std::to_string(e);
      r.customer = "solo";
      r.latency_us = e % 7 == 0 ? -1 : 1000 * (e + 1) + k;
      requests.push_back(r);
    }
  }
  Write(requests);
  QueryParams p = Params(At(9), At(12));
  p.limit = 1000;
  p.filter.customer = "solo";
  const json j = Ok(ToJson(engine_.Endpoints(p)));
  ASSERT_EQ(j["endpoints"].size(), 300u);
  for (const json& row : j["endpoints"]) {
    const int e = std::stoi(row["endpoint"].get<std::string>().substr(6));
    SCOPED_TRACE(e);
    EXPECT_EQ(row["requests"], 1 + e % 3);
    if (e % 7 == 0) {
      EXPECT_TRUE(row["latency_ms"]["max"].is_null());
    } else {
      EXPECT_DOUBLE_EQ(row["latency_ms"]["max"].get<double>(), (1000.0 * (e + 1) + e % 3) / 1000);
    }
  }
  // The same 300 endpoints without the customer filter (spread over shards).
  QueryParams all = p;
  all.filter.customer.clear();
  const json j2 = Ok(ToJson(engine_.Endpoints(all)));
  ASSERT_EQ(j2["endpoints"].size(), 300u);
  for (size_t i = 0; i < 300; ++i)
    EXPECT_EQ(j2["endpoints"][i]["latency_ms"], j["endpoints"][i]["latency_ms"]);
}

TEST_F(QueryEngineV1Test, AMaxScoreThatIsNotALatencyIsAParseError) {
  TestRequest r;
  r.time_us = At(10, 1) * 1000000;
  r.endpoint = "GET /x";
  r.latency_us = 100;
  Write({r});
  const int64_t minute = At(10, 1) / 60;
  const std::string key =
      schema_.MaxKey(Tier::kMinute, minute, KeySchema::ShardOf(SeriesKind::kEndpoint, "GET /x"));
  ASSERT_TRUE(client_.Command({"ZADD", key, "-5", "e:GET /x"}).ok());
  QueryParams p = Params(At(10), At(10, 5));
  p.filter.endpoint = "GET /x";
  auto o = ToJson(engine_.Overview(p));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), StatusCode::kParseError);
  EXPECT_NE(o.status().message().find("not a latency"), std::string::npos);
}

}  // namespace
}  // namespace apimeter

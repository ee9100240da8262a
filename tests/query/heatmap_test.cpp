// QueryEngine::Heatmap against a real redis-server, with data written by
// RedisSink (the real writer) and every cell checked against values computed
// directly from the same requests.
#include "query/heatmap.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "sink/redis_sink.h"
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
const std::string kSlow = "GET /v1/reports/:id";

class HeatmapTest : public ::testing::Test {
 protected:
  HeatmapTest()
      : client_(TestRedis::Get().endpoint()),
        schema_(TestRedis::Get().UniquePrefix("heatmap")),
        // Yesterday by the real clock, so the sink's EXPIREATs keep the data.
        day_(FloorDiv(SystemClock().NowSeconds(), kDay) - 1),
        clock_((day_ + 1) * kDay * 1000000 + 12 * kHour * 1000000LL),
        engine_(&client_, schema_, RetentionSeconds{}, &clock_) {}

  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  int64_t At(int h, int m = 0) const { return day_ * kDay + h * kHour + m * 60; }

  void Write(const std::vector<TestRequest>& requests) {
    RedisSink sink(&client_, schema_, SinkOptions{}, &clock_);
    Status st = sink.Flush(testing::BatchFor(requests));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Mixed traffic 02:00-06:00 plus a rarely called endpoint that is 50x slower.
  std::vector<TestRequest> WriteDay() {
    auto requests = testing::MixedRequests(At(2), At(6), 8000, 11);
    for (int i = 0; i < 240; ++i) {
      TestRequest r;
      r.time_us = (At(2) + i * 60) * 1000000 + 17;
      r.endpoint = kSlow;
      r.status = i % 10 == 0 ? 500 : 200;
      r.latency_us = 3000000 + i * 1000;
      requests.push_back(r);
    }
    Write(requests);
    return requests;
  }

  json Heatmap(int64_t from, int64_t to, std::string_view metric, int64_t limit = 20) {
    QueryParams p;
    p.from_s = from;
    p.to_s = to;
    p.limit = limit;
    auto r = ToJson(engine_.Heatmap(p, metric));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json();
  }

  size_t Row(const json& j, const std::string& endpoint) {
    for (size_t i = 0; i < j["endpoints"].size(); ++i) {
      if (j["endpoints"][i] == endpoint) return i;
    }
    ADD_FAILURE() << endpoint << " is not a row";
    return 0;
  }

  RedisClient client_;
  KeySchema schema_;
  int64_t day_;
  ManualClock clock_;
  QueryEngine engine_;
};

Expected ForEndpoint(const std::vector<TestRequest>& requests, const std::string& endpoint,
                     int64_t from, int64_t to) {
  return Compute(requests, from, to, [&](const TestRequest& r) { return r.endpoint == endpoint; });
}

TEST_F(HeatmapTest, HourlyRequestCountsAreExactAndRowsRankedByRequests) {
  const auto requests = WriteDay();
  // Unaligned range: widened to whole hours 01:00-08:00.
  const json j = Heatmap(At(1, 20), At(7, 5), "requests");
  EXPECT_EQ(j["from"], FormatIso8601(At(1)));
  EXPECT_EQ(j["to"], FormatIso8601(At(8)));
  EXPECT_EQ(j["step_s"], 3600);
  EXPECT_EQ(j["metric"], "requests");
  ASSERT_EQ(j["times"].size(), 7u);
  EXPECT_EQ(j["times"][0], FormatIso8601(At(1)));
  EXPECT_EQ(j["times"][6], FormatIso8601(At(7)));
  const std::vector<std::string> order = {"GET /v1/orders/:id", "POST /v1/orders", "GET /v1/users",
                                          "DELETE /v1/orders/:id", kSlow};
  ASSERT_EQ(j["endpoints"].size(), order.size());
  uint64_t previous = UINT64_MAX;
  for (size_t row = 0; row < order.size(); ++row) {
    const std::string name = j["endpoints"][row];
    const uint64_t total = ForEndpoint(requests, name, At(1), At(8)).requests;
    EXPECT_LE(total, previous) << name;  // most requests first
    previous = total;
    for (size_t col = 0; col < 7; ++col) {
      const int64_t t = At(1) + static_cast<int64_t>(col) * kHour;
      const Expected e = ForEndpoint(requests, name, t, t + kHour);
      const json& cell = j["cells"][row][col];
      if (e.requests == 0) {
        EXPECT_TRUE(cell.is_null()) << name << " col " << col;
      } else {
        EXPECT_EQ(cell, e.requests) << name << " col " << col;
      }
    }
  }
  // No traffic at 01:00, 06:00 and 07:00: null, not 0.
  EXPECT_TRUE(j["cells"][0][0].is_null());
  EXPECT_TRUE(j["cells"][0][5].is_null());
  EXPECT_FALSE(j["cells"][0][1].is_null());
}

TEST_F(HeatmapTest, PercentilesMatchExactValuesAndTheSlowEndpointStandsOut) {
  const auto requests = WriteDay();
  for (const char* metric : {"p50", "p95", "p99"}) {
    const double p = std::stod(std::string(metric + 1));
    const json j = Heatmap(At(2), At(6), metric);
    ASSERT_EQ(j["times"].size(), 4u);
    const size_t slow = Row(j, kSlow);
    for (size_t row = 0; row < j["endpoints"].size(); ++row) {
      for (size_t col = 0; col < 4; ++col) {
        const int64_t t = At(2) + static_cast<int64_t>(col) * kHour;
        const Expected e = ForEndpoint(requests, j["endpoints"][row], t, t + kHour);
        ASSERT_FALSE(e.latencies.empty());
        const double exact_ms = e.Percentile(p) / 1000.0;
        const json& cell = j["cells"][row][col];
        ASSERT_TRUE(cell.is_number()) << metric << " " << row << "," << col;
        EXPECT_NEAR(cell.get<double>(), exact_ms, exact_ms * 0.01 + 0.0005) << metric;
        if (row != slow) {
          // The slow endpoint's cell beats every other endpoint in that hour.
          EXPECT_GT(j["cells"][slow][col].get<double>(), cell.get<double>()) << metric;
        }
      }
    }
    EXPECT_GE(j["cells"][slow][0].get<double>(), 1000.0);
  }
}

TEST_F(HeatmapTest, ErrorRateIsExactPerCell) {
  const auto requests = WriteDay();
  const json j = Heatmap(At(2), At(6), "error_rate");
  for (size_t row = 0; row < j["endpoints"].size(); ++row) {
    for (size_t col = 0; col < 4; ++col) {
      const int64_t t = At(2) + static_cast<int64_t>(col) * kHour;
      const Expected e = ForEndpoint(requests, j["endpoints"][row], t, t + kHour);
      const double rate = static_cast<double>(e.e4 + e.e5) / static_cast<double>(e.requests);
      EXPECT_NEAR(j["cells"][row][col].get<double>(), rate, 5e-7);
    }
  }
  EXPECT_NEAR(j["cells"][Row(j, kSlow)][0].get<double>(), 0.1, 1e-9);
}

TEST_F(HeatmapTest, LongRangesUseDayColumnsAndLimitKeepsTheTop) {
  const auto requests = WriteDay();
  const int64_t from = (day_ - 20) * kDay, to = clock_.NowSeconds();
  const json j = Heatmap(from, to, "requests", 2);
  EXPECT_EQ(j["step_s"], 86400);
  ASSERT_EQ(j["times"].size(), 22u);  // 20 days before yesterday .. today
  ASSERT_EQ(j["endpoints"].size(), 2u);
  EXPECT_EQ(j["endpoints"][0], "GET /v1/orders/:id");
  EXPECT_EQ(j["endpoints"][1], "POST /v1/orders");
  const size_t yesterday = 20;
  EXPECT_EQ(j["times"][yesterday], FormatIso8601(day_ * kDay));
  for (size_t row = 0; row < 2; ++row) {
    for (size_t col = 0; col < 22; ++col) {
      const json& cell = j["cells"][row][col];
      if (col == yesterday) {
        EXPECT_EQ(
            cell,
            ForEndpoint(requests, j["endpoints"][row], day_ * kDay, (day_ + 1) * kDay).requests);
      } else {
        EXPECT_TRUE(cell.is_null()) << col;
      }
    }
  }
}

TEST_F(HeatmapTest, EndpointFilterGivesOneRowEvenWithoutTraffic) {
  WriteDay();
  QueryParams p;
  p.from_s = At(2);
  p.to_s = At(4);
  p.filter.endpoint = "GET /v1/nothing";
  auto r = ToJson(engine_.Heatmap(p, "p99"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)["endpoints"].size(), 1u);
  EXPECT_EQ((*r)["cells"][0], json::array({nullptr, nullptr}));
}

TEST_F(HeatmapTest, BadParametersAreInvalidArgumentNamingTheParameter) {
  QueryParams p;
  p.from_s = At(2);
  p.to_s = At(4);
  auto bad_metric = ToJson(engine_.Heatmap(p, "p42\xff"));
  ASSERT_FALSE(bad_metric.ok());
  EXPECT_EQ(bad_metric.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_metric.status().message().find("metric"), std::string::npos);
  p.limit = kMaxHeatmapRows + 1;
  auto bad_limit = ToJson(engine_.Heatmap(p, "p99"));
  ASSERT_FALSE(bad_limit.ok());
  EXPECT_NE(bad_limit.status().message().find("limit"), std::string::npos);
  p.limit = 20;
  p.filter.host = "web1";
  EXPECT_EQ(ToJson(engine_.Heatmap(p, "p99")).status().code(), StatusCode::kInvalidArgument);
  p.filter.host.clear();
  p.to_s = p.from_s;
  EXPECT_EQ(ToJson(engine_.Heatmap(p, "requests")).status().code(), StatusCode::kInvalidArgument);
}

TEST(HeatmapStepTest, HourlyUpTo14DaysWhileTheHourTierIsRetained) {
  const RetentionSeconds r;
  const int64_t now = 1000 * kDay;
  EXPECT_EQ(HeatmapStep(now - 14 * kDay, now, r, now), 3600);
  EXPECT_EQ(HeatmapStep(now - 14 * kDay - 60, now, r, now), 86400);
  // 10 days, but starting before the hour tier's 35 days.
  EXPECT_EQ(HeatmapStep(now - 40 * kDay, now - 30 * kDay, r, now), 86400);
}

}  // namespace
}  // namespace apimeter

// QueryEngineSource: the alert engine's reads from a real QueryEngine over
// data written by RedisSink. The names come from the engine's typed top-list
// answer (no JSON between query/ and alerts/), busiest first, and the totals
// are the exact series rollups.
#include <gtest/gtest.h>

#include "alerts/engine.h"
#include "common/time_util.h"
#include "query/query_engine.h"
#include "tests/query/test_data.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::TestRedis;
using testing::TestRequest;

constexpr int64_t kHour = 3600;

class QuerySourceTest : public ::testing::Test {
 protected:
  QuerySourceTest()
      : client_(TestRedis::Get().endpoint()),
        schema_(TestRedis::Get().UniquePrefix("alerts-src")),
        hour_(FloorDiv(SystemClock().NowSeconds(), kHour) * kHour - kHour),
        clock_((hour_ + 2 * kHour) * kMicrosPerSecond),
        engine_(&client_, schema_, RetentionSeconds{}, &clock_),
        source_(&engine_) {}

  void SetUp() override {
    ASSERT_TRUE(client_.Connect().ok());
    std::vector<TestRequest> requests;
    auto add = [&](int n, const std::string& endpoint, const std::string& customer, int status) {
      for (int i = 0; i < n; ++i) {
        TestRequest r;
        r.time_us = (hour_ + 60 * i + 1) * kMicrosPerSecond;
        r.endpoint = endpoint;
        r.customer = customer;
        r.status = status;
        r.latency_us = 1000 * (i + 1);
        requests.push_back(r);
      }
    };
    add(5, "GET /v1/orders", "acme", 200);
    add(3, "POST /v1/orders", "globex", 500);
    add(2, "GET /caf\xe9", "acme", 404);  // not UTF-8, as a log line may be
    RedisSink sink(&client_, schema_, SinkOptions{}, &clock_);
    Status st = sink.Flush(testing::BatchFor(requests, false));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  RedisClient client_;
  KeySchema schema_;
  int64_t hour_;
  ManualClock clock_;
  QueryEngine engine_;
  QueryEngineSource source_;
};

TEST_F(QuerySourceTest, NamesAreTheTopListsRowsBusiestFirst) {
  auto endpoints = source_.Names(false, hour_, hour_ + kHour, 1000);
  ASSERT_TRUE(endpoints.ok()) << endpoints.status().ToString();
  // Names as the API shows them: invalid UTF-8 replaced by U+FFFD.
  EXPECT_EQ(*endpoints, (std::vector<std::string>{"GET /v1/orders", "POST /v1/orders",
                                                  "GET /caf\xEF\xBF\xBD"}));
  auto two = source_.Names(false, hour_, hour_ + kHour, 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, (std::vector<std::string>{"GET /v1/orders", "POST /v1/orders"}));
  auto customers = source_.Names(true, hour_, hour_ + kHour, 1000);
  ASSERT_TRUE(customers.ok());
  EXPECT_EQ(*customers, (std::vector<std::string>{"acme", "globex"}));
}

TEST_F(QuerySourceTest, NoTrafficIsNoNamesNotAnError) {
  auto none = source_.Names(false, hour_ - 5 * kHour, hour_ - 4 * kHour, 1000);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TEST_F(QuerySourceTest, TotalsAreTheExactSeriesRollups) {
  auto all = source_.Total(SeriesKind::kAll, "", hour_, hour_ + kHour);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->requests, 10u);
  EXPECT_EQ(all->StatusRange(500, 599), 3u);
  auto ep = source_.Total(SeriesKind::kEndpoint, "POST /v1/orders", hour_, hour_ + kHour);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->requests, 3u);
  EXPECT_EQ(ep->latency_max_us, 3000);
}

}  // namespace
}  // namespace apimeter

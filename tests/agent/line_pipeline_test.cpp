// LinePipeline: future-dated lines are rejected as future_time against the
// injected clock (limits.max_future), and rejected-line samples never show
// an API key unless --show-raw-lines.
#include "agent/line_pipeline.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "agent/runtime.h"
#include "common/time_util.h"

namespace apimeter {
namespace {

constexpr int64_t kNow = 1795694400;  // 2026-11-26T12:00:00Z
constexpr const char* kKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

std::string LineAt(int64_t t, const std::string& status = "200", const std::string& key = kKey) {
  const CivilTime c = CivilFromSeconds(t);
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%02u/%s/%04lld:%02u:%02u:%02u +0000", c.day,
                kMonths[c.month - 1], static_cast<long long>(c.year), c.hour, c.minute, c.second);
  return std::string("10.0.0.1 - - [") + stamp + "] \"GET /v1/orders/7 HTTP/1.1\" " + status +
         " 100 \"-\" \"curl\" 0.010 0.009 \"" + key + "\" 200";
}

class LinePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string yaml =
        "sources:\n  - paths: [\"/var/log/api.log\"]\n"
        "    log_format: '$remote_addr - $remote_user [$time_local] \"$request\" $status "
        "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time "
        "$upstream_response_time \"$http_x_api_key\" $request_length'\n"
        "    customer: $http_x_api_key\n    host: h\n"
        "customer_id_secret: \"pipeline-test-secret-0001\"\n" +
        limits_;
    auto config = LoadConfigString(yaml, "test.yaml");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto rt = Runtime::Create(*config, &clock_);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = std::move(rt).value();
    aggregator_ = std::make_unique<Aggregator>(rt_->aggregator_options());
    pipeline_ = std::make_unique<LinePipeline>(
        &rt_->sources()[0].parser, &rt_->sources()[0].customer_key, &rt_->normalizer(),
        &rt_->customers(), aggregator_.get(), &rejected_, &clock_,
        rt_->pipeline_options(show_raw_));
  }

  void Process(const std::string& line) { pipeline_->Process(line, "api.log", offset_++); }

  ManualClock clock_{kNow * kMicrosPerSecond};
  std::string limits_;
  bool show_raw_ = false;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Aggregator> aggregator_;
  RejectedLines rejected_;
  std::unique_ptr<LinePipeline> pipeline_;
  uint64_t offset_ = 0;
};

TEST_F(LinePipelineTest, LinesMoreThanADayAheadAreRejectedAsFutureTime) {
  Process(LineAt(kNow - 3600));
  Process(LineAt(kNow + 86400 - 60));  // inside the default window (1 day)
  Process(LineAt(kNow + 86400 + 60));
  Process(LineAt(kNow + 400LL * 86400));
  // Year 6026: it used to be stored with a TTL of about 1.3e11 s.
  Process(LineAt(DaysFromCivil(6026, 1, 1) * 86400));
  EXPECT_EQ(pipeline_->parsed(), 2u);
  EXPECT_EQ(pipeline_->rejected(), 3u);
  EXPECT_EQ(rejected_.count(ParseErrorKind::kFutureTime), 3u);
  EXPECT_EQ(rejected_.Summary(), "future_time=3");
  EXPECT_EQ(ParseErrorName(ParseErrorKind::kFutureTime), "future_time");
  EXPECT_EQ(pipeline_->max_time_us(), (kNow + 86400 - 60) * kMicrosPerSecond);
  ASSERT_FALSE(rejected_.samples().empty());
  EXPECT_EQ(rejected_.samples()[0].reason, "future_time");
  // Nothing past the window reached the aggregates.
  const FlushBatch batch = aggregator_->TakeBatch();
  for (const auto& d : batch.series) {
    EXPECT_LE(d.bucket * TierSeconds(d.tier), kNow + 86400) << d.name;
  }
}

TEST_F(LinePipelineTest, NowComesFromTheInjectedClock) {
  const std::string ahead = LineAt(kNow + 2 * 86400);
  Process(ahead);
  EXPECT_EQ(rejected_.count(ParseErrorKind::kFutureTime), 1u);
  clock_.Advance(2 * 86400 * kMicrosPerSecond);  // the same line is now in the past
  Process(ahead);
  EXPECT_EQ(pipeline_->parsed(), 1u);
  EXPECT_EQ(rejected_.count(ParseErrorKind::kFutureTime), 1u);
}

class ShortWindowTest : public LinePipelineTest {
 protected:
  void SetUp() override {
    limits_ = "limits: { max_future: 10m }\n";
    LinePipelineTest::SetUp();
  }
};

TEST_F(ShortWindowTest, TheWindowIsLimitsMaxFuture) {
  Process(LineAt(kNow + 9 * 60));
  Process(LineAt(kNow + 11 * 60));
  EXPECT_EQ(pipeline_->parsed(), 1u);
  EXPECT_EQ(rejected_.count(ParseErrorKind::kFutureTime), 1u);
}

TEST_F(LinePipelineTest, RejectedSamplesNeverShowTheKey) {
  Process(LineAt(kNow, "000"));                  // bad_status: the key's position is known
  Process(LineAt(kNow, "2x0"));                  // no_match before the key: guessed
  Process(LineAt(kNow + 3 * 86400));             // future_time: a line that parsed
  Process(LineAt(kNow, "2x0", "key-a"));         // a short key, guessed from its quotes
  Process(std::string("\x16\x03\x01 ") + kKey);  // binary
  ASSERT_EQ(rejected_.samples().size(), 5u);
  const std::string id = CustomerResolver::IdFor("pipeline-test-secret-0001", kKey);
  for (const auto& s : rejected_.samples()) {
    EXPECT_EQ(s.text.find(kKey), std::string::npos) << s.reason << ": " << s.text;
    EXPECT_EQ(s.text.find("key-a"), std::string::npos) << s.reason << ": " << s.text;
  }
  EXPECT_NE(rejected_.samples()[0].text.find("\"<customer " + id + ">\""), std::string::npos)
      << rejected_.samples()[0].text;
  EXPECT_NE(rejected_.samples()[1].text.find("\"<masked>\""), std::string::npos)
      << rejected_.samples()[1].text;
  EXPECT_NE(rejected_.samples()[2].text.find("\"<customer " + id + ">\""), std::string::npos)
      << rejected_.samples()[2].text;
}

class RawLinesTest : public LinePipelineTest {
 protected:
  void SetUp() override {
    show_raw_ = true;
    LinePipelineTest::SetUp();
  }
};

TEST_F(RawLinesTest, ShowRawLinesKeepsTheLineAsLogged) {
  Process(LineAt(kNow, "2x0"));
  ASSERT_EQ(rejected_.samples().size(), 1u);
  EXPECT_NE(rejected_.samples()[0].text.find(kKey), std::string::npos);
}

TEST(RejectedLines, SamplesAreBoundedAndCanBeCleared) {
  RejectedLines r;
  for (size_t i = 0; i < RejectedLines::kMaxSamples + 5; ++i) {
    EXPECT_EQ(r.TakesSample(), i < RejectedLines::kMaxSamples);
    r.Add(ParseError{}, "x", "f", i);
  }
  EXPECT_EQ(r.samples().size(), RejectedLines::kMaxSamples);
  r.ClearSamples();
  EXPECT_TRUE(r.TakesSample());
  EXPECT_EQ(r.total(), RejectedLines::kMaxSamples + 5);
}

// The traffic metrics see what the aggregator stores: the normalized endpoint
// and the customer id, never the raw key; rejected lines are not requests.
TEST_F(LinePipelineTest, TrafficMetricsCountParsedLinesWithCustomerIdsOnly) {
  TrafficMetricsOptions o;
  o.customer_label = true;
  TrafficMetrics traffic(o);
  LinePipelineOptions options = rt_->pipeline_options(false);
  options.traffic = &traffic;
  LinePipeline pipeline(&rt_->sources()[0].parser, &rt_->sources()[0].customer_key,
                        &rt_->normalizer(), &rt_->customers(), aggregator_.get(), &rejected_,
                        &clock_, options);
  pipeline.Process(LineAt(kNow - 60), "api.log", 0);
  pipeline.Process(LineAt(kNow - 60, "503"), "api.log", 1);
  pipeline.Process("not a line " + std::string(kKey), "api.log", 2);
  PrometheusText out;
  traffic.Render(&out);
  const std::string text = out.str();
  EXPECT_EQ(text.find(kKey), std::string::npos) << text;
  const std::string id = CustomerResolver::IdFor("pipeline-test-secret-0001", kKey);
  EXPECT_NE(text.find("apimeter_api_customer_requests_total{customer=\"" + id +
                      "\",status_class=\"5xx\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apimeter_api_requests_total{endpoint=\"GET /v1/orders/:id\","
                      "status_class=\"2xx\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(pipeline.rejected(), 1u);
}

}  // namespace
}  // namespace apimeter

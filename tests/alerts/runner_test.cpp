// AlertRunner + AlertStore against a real redis-server, with a ManualClock:
// closed minutes only, catch-up, the lease (one evaluator at a time,
// taken over when it expires), state surviving a restart, history and the
// outbox handing each notification to one deliverer.
#include "alerts/runner.h"

#include "alerts/alerts_routes.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "tests/alerts/fake_source.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::FakeSource;
using testing::TestRedis;

constexpr int64_t kT0 = 1'790'020'800 / 3600 * 3600;

struct Evaluator {
  Evaluator(const AlertsConfig& c, AlertDataSource* src, const std::string& prefix,
            const std::string& owner, const Clock* clock)
      : redis(TestRedis::Get().endpoint()),
        engine(c, src),
        store(&redis, prefix, owner, c.history),
        notifier(c, nullptr, nullptr),
        runner(c, &engine, &store, &notifier, clock) {}
  RedisClient redis;
  AlertEngine engine;
  AlertStore store;
  Notifier notifier;
  AlertRunner runner;
};

class AlertRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = TestRedis::Get().UniquePrefix("alerts");
    AlertRuleConfig r =
        testing::TestRule("errors", AlertMetric::kErrorRate, "error_rate", 0.05, "5%");
    cfg_.rules.push_back(r);
    cfg_.webhooks.push_back(WebhookConfig{"hook", "http://127.0.0.1:9/x", "json", 1000, 0, 10, 1, ""});
    cfg_.grace_s = 30;
    cfg_.lease_ttl_ms = 10000;
    cfg_.catch_up_s = 600;
    // 5xx burst in minutes 3..5 after kT0.
    for (int m = 0; m < 30; ++m) {
      src_.Add(SeriesKind::kAll, "", kT0 + m * 60, 100, m >= 3 && m <= 5 ? 500 : 200, 10);
    }
  }
  // now = the moment minute kT0 + m*60 closes.
  void CloseMinute(int m) { clock_.Set((kT0 + m * 60 + 60 + cfg_.grace_s) * kMicrosPerSecond); }

  std::string prefix_;
  AlertsConfig cfg_;
  FakeSource src_;
  ManualClock clock_;
};

TEST_F(AlertRunnerTest, EvaluatesClosedMinutesOnceAndRecordsHistory) {
  Evaluator a(cfg_, &src_, prefix_, "a", &clock_);
  CloseMinute(0);
  auto t = a.runner.Tick();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->leader);
  EXPECT_EQ(t->minutes, 1);  // first start: only the latest closed minute
  // 29 seconds later minute 1 is not closed yet (grace 30 s): nothing to do.
  clock_.Set((kT0 + 120 + 29) * kMicrosPerSecond);
  EXPECT_EQ(a.runner.Tick()->minutes, 0);
  CloseMinute(8);  // minutes 1..8 in one catch-up pass
  t = a.runner.Tick();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->minutes, 8);
  EXPECT_EQ(t->events, 2);
  auto history = a.store.History(10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].kind, "resolved");  // newest first
  EXPECT_EQ((*history)[0].minute_s, kT0 + 6 * 60);
  EXPECT_EQ((*history)[1].kind, "firing");
  EXPECT_EQ((*history)[1].minute_s, kT0 + 3 * 60);
  // One outbox entry per event and webhook, in order, in the webhook's queue.
  auto queue = a.redis.Command({"LRANGE", a.store.OutboxKey("hook"), "0", "-1"});
  ASSERT_TRUE(queue.ok());
  ASSERT_EQ(queue->elements.size(), 2u);
  EXPECT_EQ(DecodeOutboxEntry(queue->elements[0].str)->event.kind, "firing");
  EXPECT_EQ(DecodeOutboxEntry(queue->elements[1].str)->event.kind, "resolved");
}

TEST_F(AlertRunnerTest, OnlyTheLeaseHolderEvaluatesAndAnotherTakesOverWhenItExpires) {
  Evaluator a(cfg_, &src_, prefix_, "a", &clock_);
  Evaluator b(cfg_, &src_, prefix_, "b", &clock_);
  CloseMinute(2);
  ASSERT_TRUE(a.runner.Tick()->leader);
  CloseMinute(4);
  auto tb = b.runner.Tick();
  ASSERT_TRUE(tb.ok());
  EXPECT_FALSE(tb->leader);
  EXPECT_EQ(tb->minutes, 0);
  ASSERT_TRUE(a.runner.Tick()->leader);  // renews
  // a dies: its lease expires (made to expire now instead of waiting 10 s).
  ASSERT_TRUE(a.redis.Command({"PEXPIRE", a.store.LeaseKey(), "1"}).ok());
  for (int i = 0; i < 1000 && a.redis.Command({"EXISTS", a.store.LeaseKey()})->integer == 1; ++i) {
    ASSERT_TRUE(a.redis.Command({"PING"}).ok());  // poll until Redis expired the key
  }
  CloseMinute(7);
  tb = b.runner.Tick();
  ASSERT_TRUE(tb.ok());
  EXPECT_TRUE(tb->leader);
  EXPECT_EQ(tb->minutes, 3);  // continues from the stored state (minute 4), not from scratch
  // a comes back: the lease is b's now, so its commit would be refused.
  auto state = a.store.LoadState();
  ASSERT_TRUE(state.ok());
  Status st = a.store.Commit(*state, {}, {}, 10000);
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  // Exactly one firing (minute 3) and one resolved (minute 6) in total.
  auto history = b.store.History(10);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[1].minute_s, kT0 + 3 * 60);
  EXPECT_EQ((*history)[0].minute_s, kT0 + 6 * 60);
}

TEST_F(AlertRunnerTest, StateSurvivesARestart) {
  {
    Evaluator a(cfg_, &src_, prefix_, "a", &clock_);
    CloseMinute(2);
    ASSERT_TRUE(a.runner.Tick().ok());
    CloseMinute(4);  // firing at minute 3, still firing at 4
    ASSERT_EQ(a.runner.Tick()->events, 1);
    ASSERT_TRUE(a.store.ReleaseLease().ok());
  }
  Evaluator again(cfg_, &src_, prefix_, "a2", &clock_);
  auto state = again.store.LoadState();
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->instances.size(), 1u);
  EXPECT_EQ(state->instances.begin()->second.state.phase, AlertPhase::kFiring);
  CloseMinute(6);
  auto t = again.runner.Tick();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->minutes, 2);
  EXPECT_EQ(t->events, 1);  // only the resolve: the firing is not sent twice
  EXPECT_EQ(again.store.History(10)->size(), 2u);
}

TEST_F(AlertRunnerTest, CatchUpIsBounded) {
  Evaluator a(cfg_, &src_, prefix_, "a", &clock_);
  CloseMinute(0);
  ASSERT_TRUE(a.runner.Tick().ok());
  CloseMinute(25);  // catch_up is 10 minutes: minutes 1..15 are skipped
  auto t = a.runner.Tick();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->skipped, 15);
  EXPECT_EQ(t->minutes, 10);
  EXPECT_EQ(t->last_minute, kT0 + 25 * 60);
}

TEST_F(AlertRunnerTest, AlertsRouteShowsFiringNowAndHistory) {
  Evaluator a(cfg_, &src_, prefix_, "a", &clock_);
  CloseMinute(2);
  ASSERT_TRUE(a.runner.Tick().ok());
  CloseMinute(4);  // fired at minute 3, firing now
  ASSERT_TRUE(a.runner.Tick().ok());
  AlertsRoutes routes(cfg_, std::make_unique<RedisClient>(TestRedis::Get().endpoint()), prefix_);
  EXPECT_FALSE(routes.Route("/api/v1/other", {}, clock_).has_value());
  auto bad = routes.Route("/api/v1/alerts", {{"limit", "0"}}, clock_);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(routes.Route("/api/v1/alerts", {{"from", "1h"}}, clock_)->status, 400);
  auto ok = routes.Route("/api/v1/alerts", {{"limit", "5"}}, clock_);
  ASSERT_TRUE(ok.has_value());
  ASSERT_EQ(ok->status, 200);
  const auto j = nlohmann::json::parse(ok->body);
  ASSERT_EQ(j["active"].size(), 1u);
  EXPECT_EQ(j["active"][0]["state"], "firing");
  EXPECT_EQ(j["active"][0]["since"], kT0 + 180);
  EXPECT_DOUBLE_EQ(j["active"][0]["value"].get<double>(), 1.0);
  ASSERT_EQ(j["history"].size(), 1u);
  EXPECT_EQ(j["history"][0]["kind"], "firing");
  EXPECT_EQ(j["evaluated_minute"], FormatIso8601(kT0 + 240));
}

TEST_F(AlertRunnerTest, LatestClosedMinuteHonoursGrace) {
  EXPECT_EQ(LatestClosedMinute(kT0 + 60 + 30, 30), kT0);
  EXPECT_EQ(LatestClosedMinute(kT0 + 60 + 29, 30), kT0 - 60);
}

}  // namespace
}  // namespace apimeter

// The pure evaluator: hysteresis, for:, resolve_for, min_requests and the
// metric values, one closed minute at a time.
#include "alerts/evaluator.h"

#include <gtest/gtest.h>

#include "tests/alerts/fake_source.h"

namespace apimeter {
namespace {

constexpr int64_t kT0 = 1'790'000'040 / 60 * 60;  // a minute boundary

AlertRuleConfig P99Above500() {
  AlertRuleConfig r = testing::TestRule("slow", AlertMetric::kP99, "p99", 500, "500ms");
  r.min_requests = 10;
  return r;
}

Observation Obs(double v, uint64_t requests = 100) {
  Observation o;
  o.value = v;
  o.requests = requests;
  o.sufficient = requests >= 10;
  return o;
}

// Steps minute by minute through `values`; returns the transition of each.
std::vector<AlertTransition> StepAll(const AlertRuleConfig& r, const std::vector<Observation>& obs,
                                     InstanceState* st) {
  std::vector<AlertTransition> out;
  for (size_t i = 0; i < obs.size(); ++i) {
    const int64_t minute = st->last_minute < 0 ? kT0 : st->last_minute + 60;
    out.push_back(Step(r, minute, obs[i], st));
  }
  return out;
}

using T = AlertTransition;

TEST(AlertEvaluator, HysteresisKeepsAHoveringValueFiring) {
  const AlertRuleConfig r = P99Above500();
  InstanceState st;
  // 600 fires; 480 and 510 hover inside the band (450, 500]: still firing; 440 clears.
  EXPECT_EQ(StepAll(r, {Obs(600), Obs(480), Obs(510), Obs(499), Obs(440)}, &st),
            (std::vector<T>{T::kFiring, T::kNone, T::kNone, T::kNone, T::kResolved}));
  EXPECT_EQ(st.phase, AlertPhase::kOk);
  // Exactly at the threshold is not a breach ("above" is strict); just over is.
  EXPECT_EQ(StepAll(r, {Obs(500), Obs(500.5)}, &st), (std::vector<T>{T::kNone, T::kFiring}));
}

TEST(AlertEvaluator, WithoutHysteresisAHoveringValueFlaps) {
  AlertRuleConfig r = P99Above500();
  r.hysteresis = 0;
  InstanceState st;
  EXPECT_EQ(StepAll(r, {Obs(510), Obs(490), Obs(510), Obs(490)}, &st),
            (std::vector<T>{T::kFiring, T::kResolved, T::kFiring, T::kResolved}));
}

TEST(AlertEvaluator, ForNeedsThatManyConsecutiveBreachingMinutes) {
  AlertRuleConfig r = P99Above500();
  r.for_s = 180;
  InstanceState st;
  // Two breaching minutes then a good one: pending is cancelled, nothing fires.
  EXPECT_EQ(StepAll(r, {Obs(600), Obs(600), Obs(300)}, &st),
            (std::vector<T>{T::kPending, T::kNone, T::kNone}));
  EXPECT_EQ(st.phase, AlertPhase::kOk);
  // Three in a row fire on the third; the breach started two minutes earlier.
  EXPECT_EQ(StepAll(r, {Obs(600), Obs(600), Obs(600)}, &st),
            (std::vector<T>{T::kPending, T::kNone, T::kFiring}));
  EXPECT_EQ(st.firing_since - st.breach_since, 120);
}

TEST(AlertEvaluator, ResolveForNeedsThatManyClearMinutes) {
  AlertRuleConfig r = P99Above500();
  r.resolve_for_s = 120;
  InstanceState st;
  EXPECT_EQ(StepAll(r, {Obs(600), Obs(100), Obs(600), Obs(100), Obs(100)}, &st),
            (std::vector<T>{T::kFiring, T::kNone, T::kNone, T::kNone, T::kResolved}));
}

TEST(AlertEvaluator, TooFewRequestsGiveNoVerdictAndCountAsClear) {
  const AlertRuleConfig r = P99Above500();
  InstanceState st;
  // 5 requests at 900 ms: below min_requests, no alert.
  EXPECT_EQ(StepAll(r, {Obs(900, 5), Obs(900, 5)}, &st), (std::vector<T>{T::kNone, T::kNone}));
  // Firing, then the endpoint goes quiet: resolves.
  EXPECT_EQ(StepAll(r, {Obs(900), Obs(900, 2)}, &st), (std::vector<T>{T::kFiring, T::kResolved}));
}

TEST(AlertEvaluator, AGapRestartsThePendingRun) {
  AlertRuleConfig r = P99Above500();
  r.for_s = 120;
  InstanceState st;
  EXPECT_EQ(Step(r, kT0, Obs(600), &st), T::kPending);
  // Ten minutes later (minutes in between not evaluated): a new run starts.
  EXPECT_EQ(Step(r, kT0 + 600, Obs(600), &st), T::kPending);
  EXPECT_EQ(Step(r, kT0 + 660, Obs(600), &st), T::kFiring);
  EXPECT_EQ(st.breach_since, kT0 + 600);
}

TEST(AlertEvaluator, BelowRulesUseTheBandAboveTheLimit) {
  AlertRuleConfig r;
  r.metric = AlertMetric::kRequests;
  r.above = false;
  r.threshold = 100;  // per minute
  r.hysteresis = 0.1;
  InstanceState st;
  auto obs = [](double v) {
    Observation o;
    o.value = v;
    o.sufficient = true;
    return o;
  };
  EXPECT_EQ(Step(r, kT0, obs(50), &st), T::kFiring);
  EXPECT_EQ(Step(r, kT0 + 60, obs(105), &st), T::kNone);  // inside [100, 110)
  EXPECT_EQ(Step(r, kT0 + 120, obs(115), &st), T::kResolved);
}

TEST(AlertEvaluator, MetricValuesFromRollups) {
  Rollup w;
  for (int i = 1; i <= 100; ++i) w.AddRequest(i <= 3 ? 503 : (i <= 10 ? 429 : 200), 0, 0, i * 1000);
  AlertRuleConfig r = P99Above500();
  EXPECT_NEAR(*MetricValue(r, w, 60), 99, 99 * 0.01);  // nearest rank of 1..100 ms
  r.metric = AlertMetric::kP50;
  EXPECT_NEAR(*MetricValue(r, w, 60), 50, 0.5);
  r.metric = AlertMetric::kErrorRate;
  EXPECT_DOUBLE_EQ(*MetricValue(r, w, 60), 0.03);  // 5xx
  r.status_lo = r.status_hi = 429;
  EXPECT_DOUBLE_EQ(*MetricValue(r, w, 60), 0.07);
  r.metric = AlertMetric::kRequests;
  EXPECT_DOUBLE_EQ(*MetricValue(r, w, 300), 20);  // per minute over 5 minutes
  // Nothing to compute from: null, not 0.
  r.metric = AlertMetric::kErrorRate;
  EXPECT_FALSE(MetricValue(r, Rollup{}, 60).has_value());
  r.metric = AlertMetric::kP99;
  EXPECT_FALSE(MetricValue(r, Rollup{}, 60).has_value());
}

TEST(AlertEvaluator, RequestBaselineAveragesOnlyDaysWithTraffic) {
  AlertRuleConfig r;
  r.metric = AlertMetric::kRequests;
  r.baseline = true;
  std::vector<Rollup> days(7);
  for (int i = 0; i < 6000; ++i) days[0].AddRequest(200, 0, 0, 1000);
  for (int i = 0; i < 3000; ++i) days[3].AddRequest(200, 0, 0, 1000);
  EXPECT_DOUBLE_EQ(*BaselineValue(r, days), 9000.0 / (2 * 60));
  EXPECT_FALSE(BaselineValue(r, std::vector<Rollup>(7)).has_value());
}

}  // namespace
}  // namespace apimeter

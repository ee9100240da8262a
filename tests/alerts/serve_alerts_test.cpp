// StartServeAlerts' /metrics families (alerts/serve_alerts.h): present, from
// 0, when serve evaluates (alerts.evaluate_in_serve with rules), absent
// otherwise. Against a real redis-server (the evaluator connects to it).
#include "alerts/serve_alerts.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

Config ServeConfig(bool evaluate) {
  Config c;
  c.redis.url = testing::TestRedis::Get().url();
  c.redis.prefix = testing::TestRedis::Get().UniquePrefix("serve-alerts");
  c.alerts.evaluate_in_serve = evaluate;
  AlertRuleConfig rule;
  rule.name = "slow";
  rule.metric = AlertMetric::kP99;
  rule.metric_text = "p99";
  c.alerts.rules.push_back(rule);
  return c;
}

std::string MetricsOf(const ServeAlertsHandle& handle) {
  PrometheusText out;
  handle.WriteMetrics(&out);
  return out.str();
}

TEST(ServeAlertsTest, EvaluatingInServeExportsTheHeldBackCounter) {
  const Config c = ServeConfig(true);
  SystemClock clock;
  auto handle = StartServeAlerts(c, &clock);
  const std::string metrics = MetricsOf(*handle);
  EXPECT_NE(metrics.find("# TYPE apimeter_alerts_partial_evaluations_total counter\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("\napimeter_alerts_partial_evaluations_total 0\n"), std::string::npos)
      << metrics;
}

TEST(ServeAlertsTest, NoEvaluatorInServeExportsNothing) {
  const Config c = ServeConfig(false);
  SystemClock clock;
  auto handle = StartServeAlerts(c, &clock);
  EXPECT_EQ(MetricsOf(*handle), "");
}

}  // namespace
}  // namespace apimeter

// The `alerts:` section: a full example loads with canonical values; bad
// rules are refused with file:line and how to fix them.
#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

std::string WithAlerts(const std::string& alerts) { return std::string(kMinimalSources) + alerts; }

// Line 4 is "alerts:"; the rule's keys start at line 10 (see kRuleHead).
constexpr const char* kHead =
    "alerts:\n"                                        // 4
    "  webhooks:\n"                                    // 5
    "    - name: ops\n"                                // 6
    "      url: https://hooks.example.com/T/SECRET\n"  // 7
    "      format: slack\n"                            // 8
    "  rules:\n";                                      // 9

// Every kind of rule, after kHead.
const std::string kFullExample = std::string(kHead) + "    - name: orders-p99\n"
                                             "      severity: critical\n"
                                             "      labels: {team: payments}\n"
                                             "      metric: p99\n"
                                             "      endpoint: GET /v1/orders/:id\n"
                                             "      above: 1.5s\n"
                                             "      window: 5m\n"
                                             "      for: 3m\n"
                                             "      min_requests: 50\n"
                                             "      webhooks: [ops]\n"
                                             "    - name: acme-429\n"
                                             "      metric: error_rate\n"
                                             "      status: 429\n"
                                             "      customer_match: '^acme'\n"
                                             "      above: 2.5%\n"
                                             "    - name: silence\n"
                                             "      metric: requests\n"
                                             "      below_baseline: 30%\n"
                                             "      hysteresis: 20%\n"
                                             "    - name: regression\n"
                                             "      metric: p99\n"
                                             "      above_baseline: 2x\n"
                                             "  evaluate_in_serve: true\n"
                                             "  grace: 45s\n"
                                             "  dashboard_url: https://apimeter.example.com/\n";

TEST(AlertsConfig, FullExampleLoads) {
  FakeMachine m;
  auto c = m.Load(WithAlerts(kFullExample));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const AlertsConfig& a = c->alerts;
  ASSERT_EQ(a.rules.size(), 4u);
  EXPECT_TRUE(a.evaluate_in_serve);
  EXPECT_EQ(a.grace_s, 45);
  EXPECT_EQ(a.dashboard_url, "https://apimeter.example.com");
  EXPECT_EQ(a.webhooks[0].format, "slack");
  const AlertRuleConfig& p99 = a.rules[0];
  EXPECT_EQ(p99.metric, AlertMetric::kP99);
  EXPECT_DOUBLE_EQ(p99.threshold, 1500);
  EXPECT_TRUE(p99.above);
  EXPECT_EQ(p99.window_s, 300);
  EXPECT_EQ(p99.for_s, 180);
  EXPECT_EQ(p99.min_requests, 50);
  EXPECT_EQ(p99.labels.at("team"), "payments");
  EXPECT_EQ(p99.line, 10);
  EXPECT_EQ(a.rules[1].status_lo, 429);
  EXPECT_EQ(a.rules[1].status_hi, 429);
  EXPECT_DOUBLE_EQ(a.rules[1].threshold, 0.025);
  EXPECT_FALSE(a.rules[2].above);
  EXPECT_TRUE(a.rules[2].baseline);
  EXPECT_DOUBLE_EQ(a.rules[2].threshold, 0.3);
  EXPECT_DOUBLE_EQ(a.rules[2].hysteresis, 0.2);
  EXPECT_DOUBLE_EQ(a.rules[3].threshold, 2.0);
}

TEST(AlertsConfig, EffectiveConfigShowsEveryRuleAndLoadsBack) {
  FakeMachine m;
  auto first = m.Load(WithAlerts(kFullExample));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string effective = EffectiveConfigYaml(*first);
  EXPECT_EQ(effective.find("SECRET"), std::string::npos) << effective;  // webhook URLs masked
  EXPECT_NE(effective.find("above_baseline"), std::string::npos) << effective;
  auto second = m.Load(effective);
  ASSERT_TRUE(second.ok()) << second.status().ToString() << "\n" << effective;
  const AlertsConfig& a = first->alerts;
  const AlertsConfig& b = second->alerts;
  ASSERT_EQ(b.rules.size(), a.rules.size());
  for (size_t i = 0; i < a.rules.size(); ++i) {
    const AlertRuleConfig &x = a.rules[i], &y = b.rules[i];
    EXPECT_EQ(y.name, x.name);
    EXPECT_EQ(y.severity, x.severity);
    EXPECT_EQ(y.labels, x.labels);
    EXPECT_EQ(y.metric, x.metric);
    EXPECT_EQ(y.status_lo, x.status_lo);
    EXPECT_EQ(y.status_hi, x.status_hi);
    EXPECT_EQ(y.above, x.above);
    EXPECT_EQ(y.baseline, x.baseline);
    EXPECT_DOUBLE_EQ(y.threshold, x.threshold);
    EXPECT_EQ(y.window_s, x.window_s);
    EXPECT_EQ(y.for_s, x.for_s);
    EXPECT_EQ(y.resolve_for_s, x.resolve_for_s);
    EXPECT_DOUBLE_EQ(y.hysteresis, x.hysteresis);
    EXPECT_EQ(y.min_requests, x.min_requests);
    EXPECT_EQ(y.endpoint, x.endpoint);
    EXPECT_EQ(y.customer_match, x.customer_match);
    EXPECT_EQ(y.webhooks, x.webhooks);
  }
  EXPECT_EQ(b.evaluate_in_serve, a.evaluate_in_serve);
  EXPECT_EQ(b.grace_s, a.grace_s);
  EXPECT_EQ(b.dashboard_url, a.dashboard_url);
  ASSERT_EQ(b.webhooks.size(), 1u);
  EXPECT_EQ(b.webhooks[0].url, "https://hooks.example.com");
  EXPECT_EQ(EffectiveConfigYaml(*second), effective);  // a fixed point
}

Result<Config> LoadRule(const std::string& rule_lines) {
  FakeMachine m;
  return m.Load(WithAlerts(std::string(kHead) + "    - name: r\n" + rule_lines));
}

TEST(AlertsConfig, ThresholdWithoutUnitIsRefused) {
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 500\n"), 12,
                      "'500' needs a unit: a latency such as 500ms"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: error_rate\n      above: 2\n"), 12,
                      "needs a unit: a percentage such as 2%"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: requests\n      below_baseline: 0.3\n"), 12,
                      "a ratio of the baseline such as 2x or 30%"));
  EXPECT_TRUE(
      FailsAt(LoadRule("      metric: requests\n      below: 10\n"), 12, "a rate such as 100/min"));
}

TEST(AlertsConfig, UnknownMetricIsRefusedWithASuggestion) {
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p98\n      above: 1s\n"), 11,
                      "unknown metric 'p98'; did you mean"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: latency\n      above: 1s\n"), 11,
                      "metrics: p50, p90, p95, p99, error_rate, requests"));
}

TEST(AlertsConfig, RegexThatDoesNotCompileIsRefused) {
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      endpoint_match: 'GET /v1/(orders'\n"
                               "      above: 1s\n"),
                      12, "endpoint_match regex does not compile: missing )"));
}

TEST(AlertsConfig, UnknownWebhookIsRefused) {
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 1s\n      webhooks: [pager]\n"), 13,
                      "unknown webhook 'pager'; known webhooks: ops"));
}

TEST(AlertsConfig, OtherMistakes) {
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n"), 10, "needs a threshold"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 1s\n      below: 1ms\n"), 13,
                      "exactly one of above, below"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 1s\n      status: 5xx\n"), 13,
                      "status applies to metric: error_rate only"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: error_rate\n      status: 6xx\n      above: 1%\n"),
                      12, "status must be a class"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 1s\n      endpoint: a\n"
                               "      customer: b\n"),
                      10, "more than one of host, endpoint, customer"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 1s\n      severity: page\n"), 13,
                      "severity must be critical, warning or info"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: p99\n      above: 1s\n      windw: 5m\n"), 13,
                      "unknown key 'windw' in 'alerts.rules'; did you mean 'window'?"));
  EXPECT_TRUE(FailsAt(LoadRule("      metric: error_rate\n      above: 150%\n"), 12, "0% to 100%"));
}

TEST(AlertsConfig, WebhookUrlIsNeverEchoed) {
  FakeMachine m;
  auto c =
      m.Load(WithAlerts("alerts:\n  webhooks:\n    - name: ops\n"
                        "      url: ftp://example.com/SECRET\n"));
  ASSERT_TRUE(FailsAt(c, 7, "must be an http:// or https:// URL"));
  EXPECT_EQ(c.status().message().find("SECRET"), std::string::npos);
}

// format: alertmanager and pagerduty; the PagerDuty routing key is a secret:
// required for pagerduty only, never echoed, masked in the effective config.
TEST(AlertsConfig, AlertmanagerAndPagerDutyWebhooks) {
  FakeMachine m;
  auto c = m.Load(WithAlerts("alerts:\n  webhooks:\n    - name: am\n"
                             "      url: http://127.0.0.1:9093\n      format: alertmanager\n"
                             "    - name: pd\n      format: pagerduty\n"
                             "      routing_key: R0UTINGKEY-SECRET\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->alerts.webhooks[0].format, "alertmanager");
  EXPECT_EQ(c->alerts.webhooks[1].url, kPagerDutyEventsUrl);  // the default endpoint
  EXPECT_EQ(c->alerts.webhooks[1].routing_key, "R0UTINGKEY-SECRET");
  const std::string effective = EffectiveConfigYaml(*c);
  EXPECT_EQ(effective.find("SECRET"), std::string::npos) << effective;
  EXPECT_NE(effective.find("routing_key: \"****\""), std::string::npos) << effective;

  auto missing = m.Load(WithAlerts("alerts:\n  webhooks:\n    - name: pd\n"
                                   "      format: pagerduty\n"));
  EXPECT_TRUE(FailsAt(missing, 6, "a pagerduty webhook needs routing_key"));
  auto stray = m.Load(WithAlerts("alerts:\n  webhooks:\n    - name: ops\n"
                                 "      url: http://x.example\n      routing_key: SECRET\n"));
  EXPECT_TRUE(FailsAt(stray, 6, "routing_key is for format: pagerduty only"));
  EXPECT_EQ(stray.status().message().find("SECRET"), std::string::npos);
  auto format = m.Load(WithAlerts("alerts:\n  webhooks:\n    - name: ops\n"
                                  "      url: http://x.example\n      format: opsgenie\n"));
  EXPECT_TRUE(FailsAt(format, 8, "alertmanager (its /api/v2/alerts) or pagerduty"));
}

}  // namespace
}  // namespace apimeter::testing

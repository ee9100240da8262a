// The prometheus: section (the agent's traffic metrics): defaults, every key,
// and errors at file:line.
#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

TEST(PrometheusConfig, DefaultsWithoutSection) {
  FakeMachine m;
  auto c = m.Load(kMinimalSources);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->prometheus.traffic);
  EXPECT_EQ(c->prometheus.max_endpoints, 200);
  EXPECT_FALSE(c->prometheus.customer_label);
  EXPECT_EQ(c->prometheus.max_customers, 200);
  EXPECT_EQ(c->prometheus.latency_buckets_ms,
            (std::vector<int64_t>{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}));
}

TEST(PrometheusConfig, EveryKeyIsReadAndShownInTheEffectiveConfig) {
  FakeMachine m;
  auto c = m.Load(std::string(kMinimalSources) +
                  "prometheus:\n  traffic: false\n  max_endpoints: 50\n  customer_label: true\n"
                  "  max_customers: 20\n  latency_buckets: [10ms, 100ms, 1s, 2m]\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->prometheus.traffic);
  EXPECT_EQ(c->prometheus.max_endpoints, 50);
  EXPECT_TRUE(c->prometheus.customer_label);
  EXPECT_EQ(c->prometheus.max_customers, 20);
  EXPECT_EQ(c->prometheus.latency_buckets_ms, (std::vector<int64_t>{10, 100, 1000, 120000}));
  const std::string effective = EffectiveConfigYaml(*c);
  EXPECT_NE(effective.find("max_endpoints: 50"), std::string::npos) << effective;
  EXPECT_NE(effective.find("latency_buckets: [10ms, 100ms, 1s, 2m]"), std::string::npos)
      << effective;
  // The effective config loads back to the same values.
  auto again = m.Load(effective);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->prometheus.latency_buckets_ms, c->prometheus.latency_buckets_ms);
}

TEST(PrometheusConfig, ErrorsNameTheLine) {
  FakeMachine m;
  const std::string base = std::string(kMinimalSources) + "prometheus:\n";  // line 4
  EXPECT_TRUE(FailsAt(m.Load(base + "  max_endpoints: 0\n"), 5, "prometheus.max_endpoints"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  max_customers: 100000\n"), 5, "prometheus.max_customers"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  traffic: maybe\n"), 5, "prometheus.traffic"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  latency_buckets: [100ms, 50ms]\n"), 5,
                      "strictly increasing"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  latency_buckets: [100]\n"), 5, "not a duration"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  latency_buckets: []\n"), 5, "needs 1 to 40"));
  EXPECT_TRUE(FailsAt(m.Load(base + "  max_endpoint: 10\n"), 5, "max_endpoints"));
}

}  // namespace
}  // namespace apimeter::testing

// Traffic metrics: counting per endpoint and status class, the latency
// histogram, and LabelCap's bounded, monotonic label values.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "agent/label_cap.h"
#include "agent/traffic_metrics.h"

namespace apimeter {
namespace {

LogRecord Rec(int status, int64_t latency_us, uint64_t in = 10, uint64_t out = 100) {
  LogRecord r;
  r.status = status;
  r.latency_us = latency_us;
  r.bytes_in = in;
  r.bytes_out = out;
  return r;
}

// sample line ("name{labels}") -> value
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

std::string Render(const TrafficMetrics& t) {
  PrometheusText out;
  t.Render(&out);
  return out.str();
}

TEST(LabelCapTest, AdmitsOnSightThenByTrafficAndNeverForgets) {
  LabelCap cap(8);  // 6 on sight, 2 by traffic
  for (int i = 0; i < 6; ++i) EXPECT_EQ(cap.Slot("e" + std::to_string(i)), uint32_t(i + 1));
  EXPECT_EQ(cap.Slot("e0"), 1u);
  // A flood of one-off values: all "other", the candidate table stays bounded.
  for (int i = 0; i < 10000; ++i) EXPECT_EQ(cap.Slot("junk" + std::to_string(i)), 0u);
  EXPECT_LE(cap.candidates(), LabelCap::kMinCandidates);
  EXPECT_EQ(cap.admitted(), 6u);
  // A busy late value earns a slot after kPromoteAfter requests, despite the flood.
  uint32_t slot = 0;
  int n = 0;
  for (; slot == 0 && n < 1000; ++n) {
    slot = cap.Slot("busy");
    cap.Slot("junk-again" + std::to_string(n));
  }
  EXPECT_EQ(slot, 7u);
  EXPECT_EQ(n, static_cast<int>(LabelCap::kPromoteAfter));
  EXPECT_EQ(cap.Slot("busy"), 7u);
  // "other" is never admitted as a value of its own.
  EXPECT_EQ(cap.Slot("other"), 0u);
  // Full: everything else stays other, admitted values keep their slot.
  for (int i = 0; i < 500; ++i) cap.Slot("second");
  EXPECT_EQ(cap.Slot("second"), 8u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(cap.Slot("third"), 0u);
  EXPECT_EQ(cap.admitted(), 8u);
  EXPECT_EQ(cap.candidates(), 0u);
  EXPECT_EQ(cap.names()[0], "other");
  EXPECT_EQ(cap.names()[7], "busy");
}

TEST(TrafficMetricsTest, CountsExactlyByEndpointStatusClassAndBucket) {
  TrafficMetricsOptions o;
  o.latency_buckets_us = {10000, 100000, 1000000};
  TrafficMetrics t(o);
  t.Add(Rec(200, 5000), "GET /a", "anonymous");
  t.Add(Rec(204, 10000), "GET /a", "anonymous");    // on the bound: le="0.01"
  t.Add(Rec(503, 2000000), "GET /a", "anonymous");  // above every bound: +Inf only
  t.Add(Rec(404, -1, 7, 70), "POST /b", "k_1");     // no latency: not in the histogram
  const auto s = Samples(Render(t));
  EXPECT_EQ(s.at("apimeter_api_requests_total{endpoint=\"GET /a\",status_class=\"2xx\"}"), 2);
  EXPECT_EQ(s.at("apimeter_api_requests_total{endpoint=\"GET /a\",status_class=\"5xx\"}"), 1);
  EXPECT_EQ(s.at("apimeter_api_requests_total{endpoint=\"POST /b\",status_class=\"4xx\"}"), 1);
  EXPECT_EQ(s.count("apimeter_api_requests_total{endpoint=\"POST /b\",status_class=\"2xx\"}"), 0u);
  EXPECT_EQ(s.at("apimeter_api_request_bytes_total{endpoint=\"GET /a\"}"), 30);
  EXPECT_EQ(s.at("apimeter_api_response_bytes_total{endpoint=\"POST /b\"}"), 70);
  const std::string h = "apimeter_api_request_duration_seconds";
  EXPECT_EQ(s.at(h + "_bucket{endpoint=\"GET /a\",le=\"0.01\"}"), 2);
  EXPECT_EQ(s.at(h + "_bucket{endpoint=\"GET /a\",le=\"0.1\"}"), 2);
  EXPECT_EQ(s.at(h + "_bucket{endpoint=\"GET /a\",le=\"1\"}"), 2);
  EXPECT_EQ(s.at(h + "_bucket{endpoint=\"GET /a\",le=\"+Inf\"}"), 3);
  EXPECT_EQ(s.at(h + "_count{endpoint=\"GET /a\"}"), 3);
  EXPECT_DOUBLE_EQ(s.at(h + "_sum{endpoint=\"GET /a\"}"), 2.015);
  EXPECT_EQ(s.at(h + "_count{endpoint=\"POST /b\"}"), 0);
  // "other" exists from the start, so sum() over endpoints never loses a series.
  EXPECT_EQ(s.at("apimeter_api_request_bytes_total{endpoint=\"other\"}"), 0);
  // No customer families unless asked for.
  EXPECT_EQ(Render(t).find("customer"), std::string::npos);
}

TEST(TrafficMetricsTest, CapKeepsTotalsExactAndExpositionBounded) {
  TrafficMetricsOptions o;
  o.max_endpoints = 200;
  o.customer_label = true;
  o.max_customers = 10;
  TrafficMetrics t(o);
  std::mt19937 rng(7);
  uint64_t total = 0;
  for (int i = 0; i < 60000; ++i) {
    const std::string e = "GET /r/" + std::to_string(rng());
    t.Add(Rec(200 + 100 * static_cast<int>(rng() % 4), 1000), e, "k_" + std::to_string(i % 50));
    ++total;
  }
  EXPECT_EQ(t.endpoints(), 150u);  // the on-sight share; one-off values never earn the rest
  EXPECT_EQ(t.customers(), 10u);
  const std::string text = Render(t);
  double requests = 0, customer_requests = 0;
  std::set<std::string> endpoints, customers;
  const std::regex ep("endpoint=\"([^\"]*)\""), cu("customer=\"([^\"]*)\"");
  for (const auto& [k, v] : Samples(text)) {
    std::smatch m;
    if (std::regex_search(k, m, ep)) endpoints.insert(m[1]);
    if (std::regex_search(k, m, cu)) customers.insert(m[1]);
    if (k.rfind("apimeter_api_requests_total{", 0) == 0) requests += v;
    if (k.rfind("apimeter_api_customer_requests_total{", 0) == 0) customer_requests += v;
  }
  EXPECT_EQ(requests, static_cast<double>(total));
  EXPECT_EQ(customer_requests, static_cast<double>(total));
  EXPECT_EQ(endpoints.size(), 151u);  // + other
  EXPECT_EQ(customers.size(), 11u);
  EXPECT_LT(text.size(), 1u << 20);
}

TEST(TrafficMetricsTest, SeriesNeverGoBackwardsOrVanish) {
  TrafficMetricsOptions o;
  o.max_endpoints = 4;
  TrafficMetrics t(o);
  std::map<std::string, double> before;
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 200; ++i) {
      // a skewed mix: a few busy endpoints and a long tail
      const int e = static_cast<int>(rng() % 4 == 0 ? rng() % 1000 : rng() % 6);
      t.Add(Rec(200, 1000), "GET /e" + std::to_string(e), "anonymous");
    }
    const auto now = Samples(Render(t));
    for (const auto& [k, v] : before) {
      ASSERT_TRUE(now.count(k)) << k << " vanished in round " << round;
      EXPECT_GE(now.at(k), v) << k;
    }
    before = now;
  }
  EXPECT_EQ(t.endpoints(), 4u);
}

TEST(PrometheusTextTest, NamesFollowTheRulesAndTypesAreDeclared) {
  EXPECT_TRUE(PrometheusText::ValidMetricName("apimeter_api_requests_total"));
  EXPECT_FALSE(PrometheusText::ValidMetricName("1abc"));
  EXPECT_FALSE(PrometheusText::ValidMetricName("a-b"));
  TrafficMetricsOptions o;
  o.customer_label = true;
  TrafficMetrics t(o);
  t.Add(Rec(200, 1000), "GET /a", "acme");
  const std::string text = Render(t);
  std::istringstream in(text);
  std::set<std::string> typed;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(PrometheusText::ValidMetricName(name)) << name;
      const std::string type = line.substr(line.rfind(' ') + 1);
      if (type == "counter") EXPECT_EQ(name.substr(name.size() - 6), "_total") << name;
      typed.insert(name);
    }
  }
  EXPECT_EQ(typed.count("apimeter_api_request_duration_seconds"), 1u);
  EXPECT_EQ(typed.count("apimeter_api_customer_requests_total"), 1u);
}

}  // namespace
}  // namespace apimeter

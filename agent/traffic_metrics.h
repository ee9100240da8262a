// TrafficMetrics: the observed API's traffic since the agent started, as
// Prometheus counters and a latency histogram (docs/operations.md,
// "Prometheus and Grafana"):
//   apimeter_api_requests_total{endpoint, status_class}
//   apimeter_api_request_bytes_total{endpoint}, apimeter_api_response_bytes_total{endpoint}
//   apimeter_api_request_duration_seconds{endpoint} (classic histogram)
// and, with customer_label, the same requests and bytes per customer in
// families of their own (apimeter_api_customer_*): a label on the endpoint
// families would multiply the two caps (200 x 200 x 5 series).
//
// Promise: Add() counts one parsed line in O(1) plus a bucket search, with no
// allocation once its endpoint and customer have a series; every count is
// exact (integers; the histogram's _sum is summed in microseconds). Label
// values are bounded by LabelCap (agent/label_cap.h): at most max_endpoints
// endpoints and max_customers customers, the rest "other"; series never go
// backwards or vanish while the process lives. The endpoint is the
// normalized name and the customer the resolved id or mapped name (never a
// raw key): the caller passes what the aggregator stores. Lines without a
// latency are counted in requests and bytes but not in the histogram.
// Not thread-safe: the agent's loop thread adds and renders.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/label_cap.h"
#include "common/log_record.h"
#include "common/prometheus_text.h"
#include "config/prometheus_config.h"

namespace apimeter {

struct TrafficMetricsOptions {
  size_t max_endpoints = 200;
  bool customer_label = false;
  size_t max_customers = 200;
  std::vector<int64_t> latency_buckets_us = {5000,   10000,   25000,   50000,   100000, 250000,
                                             500000, 1000000, 2500000, 5000000, 10000000};
};

TrafficMetricsOptions TrafficOptionsOf(const PrometheusConfig& config);

class TrafficMetrics {
 public:
  explicit TrafficMetrics(TrafficMetricsOptions options);

  void Add(const LogRecord& record, std::string_view endpoint, std::string_view customer);
  void Render(PrometheusText* out) const;

  size_t endpoints() const { return endpoints_.admitted(); }
  size_t customers() const { return customers_.admitted(); }

 private:
  static constexpr int kStatusClasses = 5;  // 1xx..5xx
  struct Counts {
    std::array<uint64_t, kStatusClasses> requests{};
    uint64_t bytes_in = 0, bytes_out = 0;
  };
  struct Latency {
    uint64_t count = 0, sum_us = 0;
  };

  TrafficMetricsOptions options_;
  std::vector<double> bounds_s_;
  LabelCap endpoints_;
  LabelCap customers_;
  std::vector<Counts> by_endpoint_;    // by slot
  std::vector<Latency> latency_;       // by slot
  std::vector<uint64_t> buckets_;      // slot * bounds + bucket (not cumulative)
  std::vector<Counts> by_customer_;    // by slot
};

}  // namespace apimeter

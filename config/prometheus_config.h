// PrometheusConfig: the `prometheus:` section, what the agent's /metrics
// endpoint exports about the observed API's traffic (agent/traffic_metrics.h;
// docs/config.md, "prometheus"; docs/operations.md, "Prometheus and Grafana").
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <vector>

namespace apimeter {

struct PrometheusConfig {
  bool traffic = true;          // export apimeter_api_* traffic families
  int64_t max_endpoints = 200;  // endpoint label values, the rest endpoint="other"
  bool customer_label = false;  // also export per-customer families (ids or mapped names)
  int64_t max_customers = 200;  // customer label values, the rest customer="other"
  // Upper bounds of apimeter_api_request_duration_seconds, in milliseconds,
  // strictly increasing (+Inf is implied).
  std::vector<int64_t> latency_buckets_ms = {5,   10,  25,   50,   100,  250,
                                             500, 1000, 2500, 5000, 10000};
  int line = 0;  // of the section in the config file; 0 = defaults
};

}  // namespace apimeter

#include "agent/traffic_metrics.h"

#include <algorithm>

namespace apimeter {
namespace {

constexpr std::array<std::string_view, 5> kStatusClassNames = {"1xx", "2xx", "3xx", "4xx",
                                                               "5xx"};

}  // namespace

TrafficMetricsOptions TrafficOptionsOf(const PrometheusConfig& config) {
  TrafficMetricsOptions o;
  o.max_endpoints = static_cast<size_t>(config.max_endpoints);
  o.customer_label = config.customer_label;
  o.max_customers = static_cast<size_t>(config.max_customers);
  o.latency_buckets_us.clear();
  for (int64_t ms : config.latency_buckets_ms) o.latency_buckets_us.push_back(ms * 1000);
  return o;
}

TrafficMetrics::TrafficMetrics(TrafficMetricsOptions options)
    : options_(std::move(options)),
      endpoints_(options_.max_endpoints),
      customers_(options_.customer_label ? options_.max_customers : 0) {
  for (int64_t us : options_.latency_buckets_us) bounds_s_.push_back(static_cast<double>(us) / 1e6);
  by_endpoint_.resize(1);
  latency_.resize(1);
  buckets_.resize(bounds_s_.size());
  by_customer_.resize(1);
}

void TrafficMetrics::Add(const LogRecord& record, std::string_view endpoint,
                         std::string_view customer) {
  const uint32_t e = endpoints_.Slot(endpoint);
  if (e >= by_endpoint_.size()) {
    by_endpoint_.resize(e + 1);
    latency_.resize(e + 1);
    buckets_.resize((e + 1) * bounds_s_.size());
  }
  // The parser admits statuses 100..599 only; clamp anyway, a count is never dropped.
  const int cls = std::clamp(record.status / 100, 1, kStatusClasses) - 1;
  Counts& c = by_endpoint_[e];
  ++c.requests[cls];
  c.bytes_in += record.bytes_in;
  c.bytes_out += record.bytes_out;
  if (record.latency_us >= 0) {
    const auto us = static_cast<uint64_t>(record.latency_us);
    Latency& l = latency_[e];
    ++l.count;
    l.sum_us += us;
    const auto& b = options_.latency_buckets_us;
    const size_t i = static_cast<size_t>(
        std::lower_bound(b.begin(), b.end(), record.latency_us) - b.begin());
    if (i < b.size()) ++buckets_[e * b.size() + i];
  }
  if (options_.customer_label) {
    const uint32_t k = customers_.Slot(customer);
    if (k >= by_customer_.size()) by_customer_.resize(k + 1);
    Counts& cc = by_customer_[k];
    ++cc.requests[cls];
    cc.bytes_in += record.bytes_in;
    cc.bytes_out += record.bytes_out;
  }
}

void TrafficMetrics::Render(PrometheusText* out) const {
  // Families are written even before the first request, so a dashboard sees
  // them (empty) rather than "no such metric".
  auto counts = [out](const char* prefix, const char* label, const LabelCap& cap,
                      const std::vector<Counts>& by, const char* what) {
    const std::string requests = std::string(prefix) + "requests_total";
    const std::string in = std::string(prefix) + "request_bytes_total";
    const std::string bytes_out = std::string(prefix) + "response_bytes_total";
    out->Family(requests, "counter",
                std::string("Requests of the observed API read from its logs, by ") + what +
                    " and status class.");
    for (size_t s = 0; s < by.size(); ++s) {
      const std::string l = PrometheusText::Label(label, cap.names()[s]);
      for (int k = 0; k < kStatusClasses; ++k) {
        if (by[s].requests[k] == 0) continue;
        out->Sample(requests, l + "," + PrometheusText::Label("status_class", kStatusClassNames[k]),
                    static_cast<double>(by[s].requests[k]));
      }
    }
    out->Family(in, "counter", std::string("Request bytes ($request_length) by ") + what + ".");
    for (size_t s = 0; s < by.size(); ++s) {
      out->Sample(in, PrometheusText::Label(label, cap.names()[s]),
                  static_cast<double>(by[s].bytes_in));
    }
    out->Family(bytes_out, "counter", std::string("Response bytes by ") + what + ".");
    for (size_t s = 0; s < by.size(); ++s) {
      out->Sample(bytes_out, PrometheusText::Label(label, cap.names()[s]),
                  static_cast<double>(by[s].bytes_out));
    }
  };
  counts("apimeter_api_", "endpoint", endpoints_, by_endpoint_, "endpoint");
  constexpr const char* kDuration = "apimeter_api_request_duration_seconds";
  out->Family(kDuration, "histogram",
              "Request latency of the observed API (lines that log one), by endpoint.");
  const size_t nb = bounds_s_.size();
  for (size_t s = 0; s < latency_.size(); ++s) {
    out->Histogram(kDuration, PrometheusText::Label("endpoint", endpoints_.names()[s]), bounds_s_,
                   std::span<const uint64_t>(buckets_.data() + s * nb, nb),
                   static_cast<double>(latency_[s].sum_us) / 1e6, latency_[s].count);
  }
  if (options_.customer_label) {
    counts("apimeter_api_customer_", "customer", customers_, by_customer_, "customer");
  }
}

}  // namespace apimeter

// PrometheusText: writes the Prometheus text exposition format (version
// 0.0.4) for apimeter's two /metrics endpoints, the agent's
// (agent/agent_metrics.h) and serve's (server/http_server.h).
//
// Promise: each family's "# HELP" and "# TYPE" lines are written once, before
// its first sample; a sample is "name value" or "name{labels} value", one a
// line; values are printed exactly ("%.17g": integers below 2^53 as plain
// digits; +Inf as "+Inf"). Label values given to Label() are escaped (\\, \"
// and \n). Histogram() writes a classic histogram: cumulative
// name_bucket{le=...} samples ending with le="+Inf", then name_sum and
// name_count, as the format requires. Names are the caller's constants and
// follow Prometheus's rules (ValidMetricName; tests check every family).
// Not thread-safe: one writer per rendering.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace apimeter {

class PrometheusText {
 public:
  // `name="value"` with the value escaped, for the labels argument.
  static std::string Label(std::string_view name, std::string_view value);
  // [a-zA-Z_:][a-zA-Z0-9_:]*
  static bool ValidMetricName(std::string_view name);

  // The HELP and TYPE lines of a family (type: counter, gauge or histogram),
  // even if no sample follows.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample; labels: "" or comma-separated Label()s.
  void Sample(std::string_view name, std::string_view labels, double value);
  // Family() unless the previous Metric() was of the same family, then Sample().
  void Metric(std::string_view name, std::string_view type, std::string_view help,
              std::string_view labels, double value);
  // The samples of one histogram series (its Family() written by the caller):
  // bucket_counts[i] is the number of observations <= upper_bounds[i], not
  // cumulative; `count` includes those above the last bound.
  void Histogram(std::string_view name, std::string_view labels,
                 std::span<const double> upper_bounds, std::span<const uint64_t> bucket_counts,
                 double sum, uint64_t count);

  const std::string& str() const { return out_; }
  size_t size() const { return out_.size(); }

 private:
  void Value(double value);
  std::string last_family_;
  std::string out_;
};

}  // namespace apimeter

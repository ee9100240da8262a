// PrometheusText: writes the Prometheus text exposition format (version
// 0.0.4) for apimeter's two /metrics endpoints, the agent's
// (agent/agent_metrics.h) and serve's (server/http_server.h).
//
// Promise: each family's "# HELP" and "# TYPE" lines are written once, before
// its first sample; a sample is "name value" or "name{labels} value", one a
// line; values are printed exactly ("%.17g": integers below 2^53 as plain
// digits). Label values given to Label() are escaped (\\, \" and \n).
// Not thread-safe: one writer per rendering.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace apimeter {

class PrometheusText {
 public:
  // `name="value"` with the value escaped, for the labels argument.
  static std::string Label(std::string_view name, std::string_view value);

  // The HELP and TYPE lines of a family (type: counter or gauge), even if
  // no sample follows.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample; labels: "" or comma-separated Label()s.
  void Sample(std::string_view name, std::string_view labels, double value);
  // Family() unless the previous Metric() was of the same family, then Sample().
  void Metric(std::string_view name, std::string_view type, std::string_view help,
              std::string_view labels, double value);

  std::string str() const { return out_.str(); }

 private:
  std::string last_family_;
  std::ostringstream out_;
};

}  // namespace apimeter

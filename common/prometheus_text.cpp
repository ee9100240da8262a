#include "common/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace apimeter {

std::string PrometheusText::Label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

bool PrometheusText::ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out_.append(name).append(" ").append(type).append("\n");
  last_family_ = name;
}

void PrometheusText::Value(double value) {
  if (std::isinf(value)) {
    out_.append(value > 0 ? " +Inf\n" : " -Inf\n");
    return;
  }
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, " %.17g\n", value);
  out_.append(buf, static_cast<size_t>(n));
}

void PrometheusText::Sample(std::string_view name, std::string_view labels, double value) {
  out_.append(name);
  if (!labels.empty()) out_.append("{").append(labels).append("}");
  Value(value);
}

void PrometheusText::Metric(std::string_view name, std::string_view type, std::string_view help,
                            std::string_view labels, double value) {
  if (last_family_ != name) Family(name, type, help);
  Sample(name, labels, value);
}

void PrometheusText::Histogram(std::string_view name, std::string_view labels,
                               std::span<const double> upper_bounds,
                               std::span<const uint64_t> bucket_counts, double sum,
                               uint64_t count) {
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  uint64_t cumulative = 0;
  char le[48];
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += i < bucket_counts.size() ? bucket_counts[i] : 0;
    // Shortest text that reads back as the same double: le="0.005", as
    // Prometheus's own clients write it (the le value is part of the series).
    const auto r = std::to_chars(le, le + sizeof le, upper_bounds[i]);
    out_.append(name).append("_bucket{").append(prefix).append("le=\"");
    out_.append(le, static_cast<size_t>(r.ptr - le)).append("\"}");
    Value(static_cast<double>(cumulative));
  }
  out_.append(name).append("_bucket{").append(prefix).append("le=\"+Inf\"}");
  Value(static_cast<double>(count));
  out_.append(name).append("_sum");
  if (!labels.empty()) out_.append("{").append(labels).append("}");
  Value(sum);
  out_.append(name).append("_count");
  if (!labels.empty()) out_.append("{").append(labels).append("}");
  Value(static_cast<double>(count));
}

}  // namespace apimeter

#include "common/prometheus_text.h"

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

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  last_family_ = name;
}

void PrometheusText::Sample(std::string_view name, std::string_view labels, double value) {
  out_ << name;
  if (!labels.empty()) out_ << "{" << labels << "}";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out_ << " " << buf << "\n";
}

void PrometheusText::Metric(std::string_view name, std::string_view type, std::string_view help,
                            std::string_view labels, double value) {
  if (last_family_ != name) Family(name, type, help);
  Sample(name, labels, value);
}

}  // namespace apimeter

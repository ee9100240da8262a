#include "config/prometheus_section.h"

#include <string>

#include "config/config_keys.h"

namespace apimeter::config_internal {
namespace {

constexpr int64_t kMaxLabelValues = 10000;
constexpr size_t kMaxBuckets = 40;

Status LoadBuckets(const YamlReader& r, const YamlField& x, std::vector<int64_t>* out) {
  const std::string name = "prometheus.latency_buckets";
  APIMETER_ASSIGN_OR_RETURN(std::vector<std::string> items, r.StringList(x, name));
  const std::string example = "; write e.g. latency_buckets: [10ms, 50ms, 100ms, 500ms, 1s, 5s]";
  if (items.empty() || items.size() > kMaxBuckets) {
    return r.ErrorAt(x, name + " needs 1 to " + std::to_string(kMaxBuckets) +
                            " upper bounds (+Inf is added)" + example);
  }
  std::vector<int64_t> ms;
  for (const std::string& item : items) {
    auto v = ParseDurationMsText(item, /*allow_ms=*/true);
    if (!v.ok() || *v <= 0 || *v > 3600 * 1000) {
      return r.ErrorAt(x, name + ": '" + item.substr(0, 40) +
                              "' is not a duration between 1ms and 1h" + example);
    }
    if (!ms.empty() && *v <= ms.back()) {
      return r.ErrorAt(x, name + " must be strictly increasing ('" + item.substr(0, 40) +
                              "' is not above the bound before it)" + example);
    }
    ms.push_back(*v);
  }
  *out = std::move(ms);
  return Status::Ok();
}

}  // namespace

Status LoadPrometheus(const YamlReader& r, const YamlField& f, PrometheusConfig* out) {
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                            r.OpenMap(f.value, "prometheus", config_keys::kPrometheus));
  out->line = YamlReader::LineOf(f);
  for (const YamlField& x : fields) {
    const std::string name = "prometheus." + x.key;
    if (x.key == "traffic") {
      APIMETER_ASSIGN_OR_RETURN(out->traffic, r.Bool(x, name));
    } else if (x.key == "max_endpoints") {
      APIMETER_ASSIGN_OR_RETURN(out->max_endpoints, r.Int(x, name, 1, kMaxLabelValues));
    } else if (x.key == "customer_label") {
      APIMETER_ASSIGN_OR_RETURN(out->customer_label, r.Bool(x, name));
    } else if (x.key == "max_customers") {
      APIMETER_ASSIGN_OR_RETURN(out->max_customers, r.Int(x, name, 1, kMaxLabelValues));
    } else {
      APIMETER_RETURN_IF_ERROR(LoadBuckets(r, x, &out->latency_buckets_ms));
    }
  }
  return Status::Ok();
}

}  // namespace apimeter::config_internal

// The `alerts:` section: rules, webhooks and evaluation settings
// (docs/alerts.md). Every rule is checked here so the evaluator never meets
// an unknown metric, a unitless threshold or a regex that does not compile.
#include "config/alerts_section.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <set>

#include "config/config_keys.h"

namespace apimeter {

std::string MaskWebhookUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "(invalid url)";
  size_t host_end = url.find_first_of("/?#", scheme_end + 3);
  std::string_view authority =
      url.substr(scheme_end + 3, host_end == std::string_view::npos ? std::string_view::npos
                                                                    : host_end - scheme_end - 3);
  // user:password@host: keep only the host.
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  return std::string(url.substr(0, scheme_end + 3)) + std::string(authority);
}

namespace config_internal {
namespace {

constexpr size_t kMaxRules = 500;
constexpr size_t kMaxWebhooks = 50;
constexpr size_t kMaxLabels = 20;
constexpr int64_t kMsPerDay = 86400 * 1000LL;

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A non-negative decimal number followed by exactly `unit`.
bool NumberWithUnit(std::string_view text, std::string_view unit, double* out) {
  if (text.size() <= unit.size() || text.substr(text.size() - unit.size()) != unit) return false;
  const std::string_view num = text.substr(0, text.size() - unit.size());
  double v = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || ptr != num.data() + num.size() || !(v >= 0) || !std::isfinite(v)) {
    return false;
  }
  *out = v;
  return true;
}

struct MetricInfo {
  std::string_view name;
  AlertMetric metric;
};
constexpr MetricInfo kMetrics[] = {
    {"p50", AlertMetric::kP50},
    {"p90", AlertMetric::kP90},
    {"p95", AlertMetric::kP95},
    {"p99", AlertMetric::kP99},
    {"error_rate", AlertMetric::kErrorRate},
    {"requests", AlertMetric::kRequests},
};

bool IsLatency(AlertMetric m) {
  return m != AlertMetric::kErrorRate && m != AlertMetric::kRequests;
}

class AlertsLoader {
 public:
  AlertsLoader(const YamlReader& r, AlertsConfig* out) : r_(r), out_(out) {}

  Status Load(const YamlField& f) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(f.value, "alerts", config_keys::kAlerts));
    const YamlField* rules = nullptr;
    for (const YamlField& x : fields) {
      const std::string name = "alerts." + x.key;
      if (x.key == "evaluate_in_serve") {
        APIMETER_ASSIGN_OR_RETURN(out_->evaluate_in_serve, r_.Bool(x, name));
      } else if (x.key == "grace") {
        APIMETER_ASSIGN_OR_RETURN(int64_t ms, r_.DurationMs(x, name, 0, 600000, false));
        out_->grace_s = ms / 1000;
      } else if (x.key == "lease_ttl") {
        APIMETER_ASSIGN_OR_RETURN(out_->lease_ttl_ms, r_.DurationMs(x, name, 2000, 600000, true));
      } else if (x.key == "catch_up") {
        APIMETER_ASSIGN_OR_RETURN(int64_t ms, r_.DurationMs(x, name, 60000, 2 * kMsPerDay, false));
        out_->catch_up_s = ms / 1000;
      } else if (x.key == "history") {
        APIMETER_ASSIGN_OR_RETURN(out_->history, r_.Int(x, name, 10, 100000));
      } else if (x.key == "max_instances") {
        APIMETER_ASSIGN_OR_RETURN(out_->max_instances, r_.Int(x, name, 1, 1000));
      } else if (x.key == "dashboard_url") {
        APIMETER_ASSIGN_OR_RETURN(out_->dashboard_url, r_.String(x, name));
        if (!IsHttpUrl(out_->dashboard_url)) {
          return r_.ErrorAt(x,
                            "alerts.dashboard_url must start with http:// or https://; write "
                            "e.g. https://apimeter.example.com");
        }
        while (!out_->dashboard_url.empty() && out_->dashboard_url.back() == '/') {
          out_->dashboard_url.pop_back();
        }
      } else if (x.key == "webhooks") {
        APIMETER_RETURN_IF_ERROR(LoadWebhooks(x));
      } else {
        rules = &x;
      }
    }
    // Rules last: they refer to webhooks by name.
    if (rules != nullptr) APIMETER_RETURN_IF_ERROR(LoadRules(*rules));
    return Status::Ok();
  }

 private:
  static bool IsHttpUrl(std::string_view u) {
    return (u.rfind("http://", 0) == 0 && u.size() > 7) ||
           (u.rfind("https://", 0) == 0 && u.size() > 8);
  }

  Status ExpectList(const YamlField& x, std::string_view what, size_t max) const {
    if (!x.value.IsSequence()) {
      return r_.ErrorAt(x, "alerts." + x.key + " must be a list of " + std::string(what) +
                               " (lines starting with '- '); see docs/alerts.md");
    }
    if (x.value.size() > max) {
      return r_.ErrorAt(x, "alerts." + x.key + ": at most " + std::to_string(max) + " entries");
    }
    return Status::Ok();
  }

  Status LoadWebhooks(const YamlField& x) {
    APIMETER_RETURN_IF_ERROR(ExpectList(x, "webhooks", kMaxWebhooks));
    for (const YAML::Node& item : x.value) {
      APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                                r_.OpenMap(item, "alerts.webhooks", config_keys::kAlertWebhook));
      WebhookConfig w;
      w.line = YamlReader::LineOf(item);
      for (const YamlField& f : fields) {
        const std::string name = "alerts.webhooks." + f.key;
        if (f.key == "name") {
          APIMETER_ASSIGN_OR_RETURN(w.name, r_.String(f, name));
          if (!ValidName(w.name)) return r_.ErrorAt(f, BadName("webhook", w.name));
        } else if (f.key == "url") {
          APIMETER_ASSIGN_OR_RETURN(w.url, r_.String(f, name));
          if (!IsHttpUrl(w.url) || HasControl(w.url) || w.url.find(' ') != std::string::npos) {
            // The URL may hold a secret token: never echo it.
            return r_.ErrorAt(f,
                              "alerts.webhooks.url must be an http:// or https:// URL "
                              "without spaces");
          }
        } else if (f.key == "format") {
          APIMETER_ASSIGN_OR_RETURN(w.format, r_.String(f, name));
          if (w.format != "json" && w.format != "slack" && w.format != "alertmanager" &&
              w.format != "pagerduty") {
            return r_.ErrorAt(f,
                              "alerts.webhooks.format must be json (generic JSON), slack "
                              "(Slack-compatible {\"text\": ...}), alertmanager (its "
                              "/api/v2/alerts) or pagerduty (Events API v2), got '" +
                                  w.format.substr(0, 40) + "'");
          }
        } else if (f.key == "routing_key") {
          APIMETER_ASSIGN_OR_RETURN(w.routing_key, r_.String(f, name));
          if (w.routing_key.empty() || w.routing_key.size() > 64 || HasControl(w.routing_key)) {
            // A secret: never echoed.
            return r_.ErrorAt(f,
                              "alerts.webhooks.routing_key must be the PagerDuty integration "
                              "key (1 to 64 printable characters)");
          }
        } else if (f.key == "timeout") {
          APIMETER_ASSIGN_OR_RETURN(w.timeout_ms, r_.DurationMs(f, name, 100, 120000, true));
        } else if (f.key == "retries") {
          APIMETER_ASSIGN_OR_RETURN(w.retries, r_.Int(f, name, 0, 10));
        } else {
          APIMETER_ASSIGN_OR_RETURN(w.backoff_ms, r_.DurationMs(f, name, 10, 600000, true));
        }
      }
      APIMETER_RETURN_IF_ERROR(CheckFormatKeys(item, &w));
      if (w.name.empty() || w.url.empty()) {
        return r_.ErrorAt(item,
                          "a webhook needs a name and a url; write e.g.\n  - name: ops\n"
                          "    url: https://hooks.slack.com/services/...\n    format: slack");
      }
      for (const WebhookConfig& other : out_->webhooks) {
        if (other.name == w.name) {
          return r_.ErrorAt(item, "webhook name '" + w.name + "' is used twice (first on line " +
                                      std::to_string(other.line) + "); names must be unique");
        }
      }
      out_->webhooks.push_back(std::move(w));
    }
    return Status::Ok();
  }

  // pagerduty needs its routing key (and posts to PagerDuty's own URL unless
  // url says otherwise); routing_key means nothing to the other formats.
  Status CheckFormatKeys(const YAML::Node& item, WebhookConfig* w) const {
    if (w->format == "pagerduty") {
      if (w->routing_key.empty()) {
        return r_.ErrorAt(item,
                          "a pagerduty webhook needs routing_key: the integration key of an "
                          "Events API v2 integration of the PagerDuty service");
      }
      if (w->url.empty()) w->url = kPagerDutyEventsUrl;
    } else if (!w->routing_key.empty()) {
      return r_.ErrorAt(item, "alerts.webhooks.routing_key is for format: pagerduty only");
    }
    return Status::Ok();
  }

  static std::string BadName(std::string_view what, std::string_view name) {
    return std::string(what) + " name '" + std::string(name.substr(0, 64)) +
           "' must be 1 to 64 letters, digits, '_', '-' or '.'";
  }

  Status LoadRules(const YamlField& x) {
    APIMETER_RETURN_IF_ERROR(ExpectList(x, "rules", kMaxRules));
    std::set<std::string> names;
    for (const YAML::Node& item : x.value) {
      AlertRuleConfig rule;
      APIMETER_RETURN_IF_ERROR(LoadRule(item, &rule));
      if (!names.insert(rule.name).second) {
        return r_.ErrorAt(
            item, "alert rule name '" + rule.name + "' is used twice; rule names must be unique");
      }
      out_->rules.push_back(std::move(rule));
    }
    return Status::Ok();
  }

  Status LoadRule(const YAML::Node& item, AlertRuleConfig* rule) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(item, "alerts.rules", config_keys::kAlertRule));
    rule->line = YamlReader::LineOf(item);
    const YamlField* threshold = nullptr;
    const YamlField* status = nullptr;
    int scopes = 0;
    for (const YamlField& f : fields) {
      const std::string name = "alerts.rules." + f.key;
      if (f.key == "name") {
        APIMETER_ASSIGN_OR_RETURN(rule->name, r_.String(f, name));
        if (!ValidName(rule->name)) return r_.ErrorAt(f, BadName("alert rule", rule->name));
      } else if (f.key == "severity") {
        APIMETER_ASSIGN_OR_RETURN(rule->severity, r_.String(f, name));
        if (rule->severity != "critical" && rule->severity != "warning" &&
            rule->severity != "info") {
          return r_.ErrorAt(f, "severity must be critical, warning or info, got '" +
                                   rule->severity.substr(0, 40) + "'");
        }
      } else if (f.key == "labels") {
        APIMETER_RETURN_IF_ERROR(LoadLabels(f, rule));
      } else if (f.key == "metric") {
        APIMETER_RETURN_IF_ERROR(LoadMetric(f, rule));
      } else if (f.key == "status") {
        status = &f;
      } else if (f.key == "above" || f.key == "below" || f.key == "above_baseline" ||
                 f.key == "below_baseline") {
        if (threshold != nullptr) {
          return r_.ErrorAt(f,
                            "a rule has exactly one of above, below, above_baseline, "
                            "below_baseline; '" +
                                threshold->key + "' is already set");
        }
        threshold = &f;
      } else if (f.key == "window") {
        APIMETER_ASSIGN_OR_RETURN(int64_t ms, r_.DurationMs(f, name, 60000, 86400000, false));
        rule->window_s = ms / 1000;
      } else if (f.key == "for" || f.key == "resolve_for") {
        APIMETER_ASSIGN_OR_RETURN(int64_t ms, r_.DurationMs(f, name, 0, 86400000, false));
        (f.key == "for" ? rule->for_s : rule->resolve_for_s) = ms / 1000;
      } else if (f.key == "hysteresis") {
        APIMETER_ASSIGN_OR_RETURN(std::string text, r_.String(f, name));
        double pct = 0;
        if (!NumberWithUnit(text, "%", &pct) || pct > 50) {
          return r_.ErrorAt(f, "hysteresis must be a percentage from 0% to 50%, e.g. 10%");
        }
        rule->hysteresis = pct / 100;
      } else if (f.key == "min_requests") {
        APIMETER_ASSIGN_OR_RETURN(rule->min_requests, r_.Int(f, name, 0, 1000000000));
      } else if (f.key == "webhooks") {
        APIMETER_ASSIGN_OR_RETURN(rule->webhooks, r_.StringList(f, name));
        APIMETER_RETURN_IF_ERROR(CheckWebhookNames(f, rule->webhooks));
      } else {
        ++scopes;
        APIMETER_RETURN_IF_ERROR(LoadScope(f, rule));
      }
    }
    if (rule->name.empty()) {
      return r_.ErrorAt(item, "an alert rule needs a name; write e.g. name: checkout-p99");
    }
    if (rule->metric_text.empty()) {
      return r_.ErrorAt(item, "alert rule '" + rule->name +
                                  "' needs a metric: p50, p90, p95, p99, error_rate or requests");
    }
    if (scopes > 1) {
      return r_.ErrorAt(item, "alert rule '" + rule->name +
                                  "' sets more than one of host, endpoint, customer, "
                                  "endpoint_match, customer_match; keep one (customer × endpoint "
                                  "is stored per day only, too coarse to alert on)");
    }
    if (status != nullptr) APIMETER_RETURN_IF_ERROR(LoadStatus(*status, rule));
    if (threshold == nullptr) {
      return r_.ErrorAt(item, "alert rule '" + rule->name +
                                  "' needs a threshold: above, below, above_baseline or "
                                  "below_baseline, e.g. above: 500ms");
    }
    return LoadThreshold(*threshold, rule);
  }

  Status LoadLabels(const YamlField& f, AlertRuleConfig* rule) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> labels,
                              r_.OpenMap(f.value, "labels", {}, /*any_key=*/true));
    if (labels.size() > kMaxLabels) return r_.ErrorAt(f, "at most 20 labels per rule");
    for (const YamlField& l : labels) {
      APIMETER_ASSIGN_OR_RETURN(std::string v, r_.String(l, "labels." + l.key));
      if (!ValidName(l.key) || v.size() > 200 || HasControl(v)) {
        return r_.ErrorAt(l,
                          "a label is name: value with a name of letters, digits, '_', '-' "
                          "or '.' and a value of at most 200 characters");
      }
      rule->labels[l.key] = std::move(v);
    }
    return Status::Ok();
  }

  Status LoadMetric(const YamlField& f, AlertRuleConfig* rule) {
    APIMETER_ASSIGN_OR_RETURN(rule->metric_text, r_.String(f, "alerts.rules.metric"));
    for (const MetricInfo& m : kMetrics) {
      if (m.name == rule->metric_text) {
        rule->metric = m.metric;
        return Status::Ok();
      }
    }
    std::string msg = "unknown metric '" + rule->metric_text.substr(0, 40) + "'";
    const std::string near =
        NearestKey(rule->metric_text, {"p50", "p90", "p95", "p99", "error_rate", "requests"});
    if (!near.empty()) msg += "; did you mean '" + near + "'?";
    return r_.ErrorAt(f, msg + " (metrics: p50, p90, p95, p99, error_rate, requests)");
  }

  Status LoadStatus(const YamlField& f, AlertRuleConfig* rule) {
    if (rule->metric != AlertMetric::kErrorRate) {
      return r_.ErrorAt(f, "status applies to metric: error_rate only; remove it");
    }
    APIMETER_ASSIGN_OR_RETURN(rule->status_text, r_.String(f, "alerts.rules.status"));
    const std::string& s = rule->status_text;
    if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && s.substr(1) == "xx") {
      rule->status_lo = (s[0] - '0') * 100;
      rule->status_hi = rule->status_lo + 99;
      return Status::Ok();
    }
    int code = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), code);
    if (ec == std::errc() && ptr == s.data() + s.size() && code >= 100 && code <= 599) {
      rule->status_lo = rule->status_hi = code;
      return Status::Ok();
    }
    return r_.ErrorAt(f, "status must be a class (4xx, 5xx) or one code such as 429, got '" +
                             s.substr(0, 40) + "'");
  }

  Status LoadScope(const YamlField& f, AlertRuleConfig* rule) {
    APIMETER_ASSIGN_OR_RETURN(std::string v, r_.String(f, "alerts.rules." + f.key));
    if (v.empty() || v.size() > 256 || HasControl(v)) {
      return r_.ErrorAt(f, f.key + " must be 1 to 256 characters without control characters");
    }
    if (f.key == "endpoint_match" || f.key == "customer_match") {
      RE2 re(v, RE2::Quiet);
      if (!re.ok()) {
        return r_.ErrorAt(f, f.key + " regex does not compile: " + re.error() +
                                 "; RE2 syntax, e.g. '^POST /v1/' (docs/alerts.md)");
      }
    }
    if (f.key == "host") rule->host = v;
    if (f.key == "endpoint") rule->endpoint = v;
    if (f.key == "customer") rule->customer = v;
    if (f.key == "endpoint_match") rule->endpoint_match = v;
    if (f.key == "customer_match") rule->customer_match = v;
    return Status::Ok();
  }

  Status CheckWebhookNames(const YamlField& f, const std::vector<std::string>& names) {
    for (const std::string& n : names) {
      const bool known = std::any_of(out_->webhooks.begin(), out_->webhooks.end(),
                                     [&](const WebhookConfig& w) { return w.name == n; });
      if (!known) {
        std::string msg = "unknown webhook '" + n.substr(0, 64) + "'; ";
        msg += out_->webhooks.empty() ? std::string("define it under alerts.webhooks")
                                      : "known webhooks:";
        for (const WebhookConfig& w : out_->webhooks) msg += " " + w.name;
        return r_.ErrorAt(f, msg);
      }
    }
    return Status::Ok();
  }

  Status LoadThreshold(const YamlField& f, AlertRuleConfig* rule) {
    rule->above = f.key.rfind("above", 0) == 0;
    rule->baseline = f.key.find("baseline") != std::string::npos;
    APIMETER_ASSIGN_OR_RETURN(rule->threshold_text, r_.String(f, "alerts.rules." + f.key));
    Result<double> v = ParseAlertThreshold(rule->threshold_text, rule->metric, rule->baseline);
    if (!v.ok()) return r_.ErrorAt(f, f.key + ": " + v.status().message());
    rule->threshold = *v;
    return Status::Ok();
  }

  const YamlReader& r_;
  AlertsConfig* out_;
};

}  // namespace

namespace {

// Why a threshold was refused, in the operator's terms: a bare number needs
// its unit ("500" -> "write e.g. 500ms"); a number with a unit must be 0 or
// more; anything else gets the accepted forms. The text is never followed by
// a unit it already has (no "-5msms").
Status BadThreshold(std::string_view text, std::initializer_list<std::string_view> units,
                    const std::string& forms) {
  const std::string t(text.substr(0, 40));
  const std::string first(*units.begin());
  double v = 0;
  if (NumberWithUnit(t + first, first, &v)) {
    return Status::InvalidArgument("'" + t + "' needs a unit: " + forms + "; write e.g. " + t +
                                   first);
  }
  for (std::string_view u : units) {
    if (text.size() > u.size() && text.substr(text.size() - u.size()) == u) {
      return Status::InvalidArgument("'" + t + "' must be a number of 0 or more followed by " +
                                     "its unit: " + forms);
    }
  }
  return Status::InvalidArgument("'" + t + "' is not understood: " + forms);
}

}  // namespace

Result<double> ParseAlertThreshold(std::string_view text, AlertMetric metric, bool baseline) {
  double v = 0;
  if (baseline) {
    if (NumberWithUnit(text, "x", &v)) return v;
    if (NumberWithUnit(text, "%", &v)) return v / 100;
    return BadThreshold(text, {"x", "%"}, "a ratio of the baseline such as 2x or 30%");
  }
  if (IsLatency(metric)) {
    if (NumberWithUnit(text, "ms", &v)) return v;
    if (NumberWithUnit(text, "s", &v)) return v * 1000;
    return BadThreshold(text, {"ms", "s"}, "a latency such as 500ms or 1.5s");
  }
  if (metric == AlertMetric::kErrorRate) {
    const std::string forms = "a percentage such as 2% (0% to 100%)";
    if (NumberWithUnit(text, "%", &v)) {
      if (v <= 100) return v / 100;
      return Status::InvalidArgument("'" + std::string(text.substr(0, 40)) +
                                     "' is more than 100%: " + forms);
    }
    return BadThreshold(text, {"%"}, forms);
  }
  if (NumberWithUnit(text, "/min", &v)) return v;
  if (NumberWithUnit(text, "/s", &v)) return v * 60;
  return BadThreshold(text, {"/min", "/s"}, "a rate such as 100/min or 2/s");
}

Status LoadAlerts(const YamlReader& r, const YamlField& f, AlertsConfig* out) {
  return AlertsLoader(r, out).Load(f);
}

}  // namespace config_internal
}  // namespace apimeter

// AlertsConfig: the `alerts:` section of the config (docs/alerts.md) as plain,
// validated values: rules, webhooks and evaluation settings.
//
// Promise: a loaded AlertsConfig only holds rules whose metric, threshold
// (with its unit), scope regexes and webhook names were checked by
// config/alerts_section.cpp; thresholds are stored in canonical units
// (milliseconds, fractions, requests per minute, ratios). Webhook URLs are
// secrets: show them only through MaskWebhookUrl. A plain value, safe to
// share read-only between threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace apimeter {

enum class AlertMetric { kP50, kP90, kP95, kP99, kErrorRate, kRequests };

struct AlertRuleConfig {
  std::string name;
  std::string severity = "warning";
  std::map<std::string, std::string> labels;
  AlertMetric metric = AlertMetric::kP99;
  std::string metric_text;  // as written: p99, error_rate, requests, ...
  // error_rate only: the statuses counted as errors, [status_lo, status_hi].
  int status_lo = 500, status_hi = 599;
  std::string status_text = "5xx";
  bool above = true;      // fire when value > threshold (false: value < threshold)
  bool baseline = false;  // threshold is a ratio of the same hour-of-day baseline
  // Canonical units: ms (latency), fraction (error_rate), requests/minute
  // (requests); for baseline rules the ratio (2x = 2.0, 30% = 0.3).
  double threshold = 0;
  std::string threshold_text;  // as written, for messages and notifications
  int64_t window_s = 60;       // value computed over this many closed seconds
  int64_t for_s = 0;           // breach must last this long before firing
  int64_t resolve_for_s = 60;  // clear must last this long before resolving
  double hysteresis = 0.1;     // clear only beyond threshold × (1 ∓ hysteresis)
  int64_t min_requests = 0;    // fewer requests in the window (or baseline): no verdict
  // Scope: at most one of host / endpoint / customer (exact or regex).
  std::string host, endpoint, customer;
  std::string endpoint_match, customer_match;  // RE2 regexes: one alert per match
  std::vector<std::string> webhooks;           // names; empty = every webhook
  int line = 0;
};

struct WebhookConfig {
  std::string name;
  std::string url;              // secret-ish: log MaskWebhookUrl(url) only
  std::string format = "json";  // json | slack | alertmanager | pagerduty
  int64_t timeout_ms = 5000;
  int64_t retries = 3;        // attempts after the first
  int64_t backoff_ms = 1000;  // doubled after each failed attempt
  int line = 0;
  std::string routing_key;  // pagerduty only: the integration key, a secret (never shown)
};

struct AlertsConfig {
  std::vector<AlertRuleConfig> rules;
  std::vector<WebhookConfig> webhooks;
  bool evaluate_in_serve = false;  // `apimeter serve` also evaluates (lease-guarded)
  int64_t grace_s = 30;            // a minute is closed this long after it ends
  int64_t lease_ttl_ms = 30000;    // the evaluator lease expires unless renewed
  int64_t catch_up_s = 3600;       // at most this much missed time is evaluated late
  int64_t history = 1000;          // alert events kept in Redis
  int64_t max_instances = 100;     // per rule with endpoint_match / customer_match
  std::string dashboard_url;       // base URL for links in notifications
};

// Where format: pagerduty posts when no url is given (PagerDuty Events API v2).
inline constexpr const char* kPagerDutyEventsUrl = "https://events.pagerduty.com/v2/enqueue";

// "scheme://host[:port]": what logs show instead of a webhook URL.
std::string MaskWebhookUrl(std::string_view url);

}  // namespace apimeter

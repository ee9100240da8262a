// Notifier: turns alert events into webhook notifications (Slack-compatible
// {"text": ...} or generic JSON) and delivers them with retries.
//
// Promise: payloads carry the rule, severity, labels, scope, value, limit,
// baseline (null when the rule has none or it could not be computed) and a
// dashboard link to the endpoint/customer at the alert's time. Deliver tries
// 1 + retries times with the webhook's timeout per attempt and doubling
// backoff between attempts, then logs the failure and returns false; logs
// name the webhook and its scheme://host only, never the full URL. Delivery
// never runs on the evaluation path (alerts/runner.h hands events over
// through the Redis outbox). The HTTP call and the sleep are injected so
// tests neither open sockets nor wait. Thread-safety: Deliver is const and
// reentrant when the injected functions are.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerts/engine.h"
#include "alerts/http_post.h"
#include "alerts/store.h"
#include "config/alerts_config.h"

namespace apimeter {

using HttpPoster = std::function<HttpPostResult(const std::string& url, const std::string& body,
                                                int64_t timeout_ms)>;
// Waits ms between attempts; false = stop now (shutdown): no more attempts.
using BackoffSleep = std::function<bool(int64_t ms)>;

// "<base>/?range=custom&from=..&to=..&endpoint=.." (an hour around the alert);
// "" when base is empty.
std::string DashboardLink(const std::string& base, const AlertEvent& e);
nlohmann::json GenericPayload(const AlertEvent& e, const std::string& dashboard_url);
nlohmann::json SlackPayload(const AlertEvent& e, const std::string& dashboard_url);
// "p99 = 812.4 ms (limit 500 ms)" style text of a value in the metric's unit.
std::string FormatMetricValue(const std::string& metric, const std::optional<double>& v);

class Notifier {
 public:
  Notifier(const AlertsConfig& config, HttpPoster poster, BackoffSleep sleep);

  // One outbox entry per (event, webhook it goes to).
  std::vector<OutboxEntry> Route(const std::vector<AlertEvent>& events) const;
  // Sends one entry (see the header comment). An entry for a webhook that is
  // no longer configured is dropped with a warning.
  bool Deliver(const OutboxEntry& entry) const;

 private:
  const AlertsConfig& config_;
  HttpPoster poster_;
  BackoffSleep sleep_;
};

}  // namespace apimeter

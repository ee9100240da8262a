// Notifier: turns alert events into webhook notifications and delivers them
// with retries. Formats (docs/alerts.md, "Notifications"): generic JSON,
// Slack-compatible {"text": ...}, Alertmanager (POST <url>/api/v2/alerts)
// and PagerDuty Events API v2 (trigger / resolve).
//
// Promise: payloads carry the rule, severity, labels, scope, value, limit,
// baseline (null when the rule has none or it could not be computed) and a
// dashboard link to the endpoint/customer at the alert's time; every request
// carries the entry's idempotency key (header Idempotency-Key, and in the
// generic JSON, Alertmanager annotations and PagerDuty custom_details).
// Deliver tries 1 + retries times with the webhook's timeout per attempt and
// doubling backoff between attempts, calling `extend` first so the caller
// can keep its claim on the entry alive (alerts/store.h), then logs the
// failure and reports kFailed; logs name the webhook and its scheme://host
// only, never the full URL or a routing key. Delivery never runs on the
// evaluation path (alerts/runner.h hands events over through the Redis
// outbox). The HTTP call, the sleep and the clock are injected so tests
// neither open sockets nor wait. Thread-safety: Deliver is const and
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
#include "common/clock.h"
#include "config/alerts_config.h"

namespace apimeter {

using HttpPoster = std::function<HttpPostResult(const std::string& url, const std::string& body,
                                                const HttpHeaders& headers, int64_t timeout_ms)>;
// Waits ms between attempts; false = stop now (shutdown): no more attempts.
using BackoffSleep = std::function<bool(int64_t ms)>;

// How long a firing alert stays active in Alertmanager unless repeated: the
// evaluator repeats every firing alert after each pass (about once a
// minute), so only an evaluator that stopped lets it lapse.
inline constexpr int64_t kAlertmanagerHoldS = 5 * 60;
// A claim lasts an attempt's timeout (plus its backoff) and this margin.
inline constexpr int64_t kClaimMarginMs = 2000;

// "<base>/?range=custom&from=..&to=..&endpoint=.." (an hour around the alert);
// "" when base is empty.
std::string DashboardLink(const std::string& base, const AlertEvent& e);
nlohmann::json GenericPayload(const AlertEvent& e, const std::string& dashboard_url);
nlohmann::json SlackPayload(const AlertEvent& e, const std::string& dashboard_url);
// A one-element array for POST /api/v2/alerts. startsAt = the minute the
// alert fired; firing (and repeats): endsAt = now_s + kAlertmanagerHoldS;
// resolved: endsAt = the end of the minute that resolved it.
nlohmann::json AlertmanagerPayload(const OutboxEntry& o, const std::string& dashboard_url,
                                   int64_t now_s);
// "<base>/api/v2/alerts".
std::string AlertmanagerAlertsUrl(const std::string& base);
// rule/scope/name, or rule/<hash> when that is over PagerDuty's 255 bytes.
std::string PagerDutyDedupKey(const AlertEvent& e);
nlohmann::json PagerDutyPayload(const AlertEvent& e, const std::string& routing_key,
                                const std::string& dashboard_url, const std::string& key);
// "p99 = 812.4 ms (limit 500 ms)" style text of a value in the metric's unit.
std::string FormatMetricValue(const std::string& metric, const std::optional<double>& v);

enum class DeliveryOutcome {
  kDelivered,  // a 2xx: acknowledge
  kFailed,     // every attempt failed (or no such webhook): logged, dead-letter it
  kStopped,    // shutdown between attempts: put it back
};

class Notifier {
 public:
  // `clock` (Alertmanager's endsAt) defaults to the system clock.
  Notifier(const AlertsConfig& config, HttpPoster poster, BackoffSleep sleep,
           const Clock* clock = nullptr);

  // One outbox entry per (event, webhook it goes to), with its idempotency key.
  std::vector<OutboxEntry> Route(const std::vector<AlertEvent>& events) const;
  // Repeats of alerts still firing (events built by AlertEngine::StillFiring)
  // for the Alertmanager webhooks they go to; minute = the pass's last minute.
  std::vector<OutboxEntry> RouteRepeats(const std::vector<AlertEvent>& firing) const;
  // A claim long enough for the first attempt of any webhook.
  int64_t FirstClaimMs() const;
  // Sends one entry (see the header comment). `extend(ms)` is called before
  // each attempt and each backoff with how long the claim must last now.
  DeliveryOutcome Deliver(const OutboxEntry& entry,
                          const std::function<void(int64_t ms)>& extend = {}) const;

 private:
  const AlertsConfig& config_;
  HttpPoster poster_;
  BackoffSleep sleep_;
  const Clock* clock_;
};

}  // namespace apimeter

// Alerts inside `apimeter serve`, and the one mapping from a Config to what
// the alert evaluator runs with (shared with `apimeter alerts`).
//
// Promise: StartServeAlerts adds GET /api/v1/alerts (one AlertsRoutes, with
// its own Redis connection, per serve worker) and, with
// alerts.evaluate_in_serve and rules configured, runs an AlertService
// (alerts/service.h) until the handle is destroyed. The Config must be
// validated (redis.url parses) and outlive the handle. Thread-safety: create,
// ask for routes and destroy from one thread; each route object is then used
// by its own worker only.
#pragma once

#include <memory>
#include <string>

#include "alerts/service.h"
#include "common/clock.h"
#include "common/prometheus_text.h"
#include "config/config.h"

namespace apimeter {

class ApiExtension;

// The evaluator's options from a validated Config: rules, a factory of Redis
// clients (redis.url, or redis.cluster when set) with the configured
// timeouts, key prefix and tier retention.
AlertServiceOptions AlertServiceOptionsOf(const Config& config);
// How log lines name the configured Redis (the URL masked, or redis.cluster).
std::string RedisNameOf(const Config& config);

class ServeAlertsHandle {
 public:
  virtual ~ServeAlertsHandle() = default;
  // The /api/v1/alerts routes for one more serve worker: each has its own
  // Redis connection, so no two workers share one. Owned by the handle.
  virtual ApiExtension* NewRoutes() = 0;
  // serve's /metrics families of the evaluator: with alerts.evaluate_in_serve
  // (and rules), apimeter_alerts_partial_evaluations_total; otherwise
  // nothing (no evaluator here: absent, not zero). Any thread.
  virtual void WriteMetrics(PrometheusText* out) const = 0;
};
std::unique_ptr<ServeAlertsHandle> StartServeAlerts(const Config& config, const Clock* clock);

}  // namespace apimeter

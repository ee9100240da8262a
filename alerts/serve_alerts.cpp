#include "alerts/serve_alerts.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "alerts/alerts_routes.h"
#include "sink/cluster_client.h"

namespace apimeter {

AlertServiceOptions AlertServiceOptionsOf(const Config& c) {
  RedisEndpoint node = *ParseRedisUrl(c.redis.url);  // validated when the config loaded
  node.connect_timeout = std::chrono::milliseconds(c.redis.connect_timeout_ms);
  node.command_timeout = std::chrono::milliseconds(c.redis.command_timeout_ms);
  AlertServiceOptions o;
  o.config = c.alerts;
  // New clients for redis.url, or redis.cluster when it is set.
  o.redis = [node, cluster = c.redis.cluster] { return NewRedisCommands(node, cluster); };
  o.prefix = c.redis.prefix;
  o.schema = c.redis.schema;
  o.retention.minute_s = c.retention.minute_s;
  o.retention.hour_s = c.retention.hour_s;
  o.retention.day_s = c.retention.day_s;
  return o;
}

std::string RedisNameOf(const Config& c) {
  return c.redis.cluster.empty() ? "redis " + MaskRedisUrl(c.redis.url) : "redis.cluster";
}

namespace {

class ServeAlertsImpl final : public ServeAlertsHandle {
 public:
  ServeAlertsImpl(const Config& c, const Clock* clock) : options_(AlertServiceOptionsOf(c)) {
    if (c.alerts.evaluate_in_serve && !c.alerts.rules.empty()) {
      service_ = std::make_unique<AlertService>(options_, clock);
      service_->Start();
      spdlog::info("alerts: evaluating {} rules in serve", c.alerts.rules.size());
    }
  }
  ApiExtension* NewRoutes() override {
    routes_.push_back(
        std::make_unique<AlertsRoutes>(options_.config, options_.redis(), options_.prefix));
    return routes_.back().get();
  }
  void WriteMetrics(PrometheusText* out) const override {
    if (!service_) return;
    out->Metric("apimeter_alerts_partial_evaluations_total", "counter",
                "Rule-instance evaluations held back because a window or baseline was read "
                "with damaged blocks left out (the instance kept its state; docs/alerts.md).",
                "", static_cast<double>(service_->partial_instances()));
  }

 private:
  const AlertServiceOptions options_;
  std::vector<std::unique_ptr<AlertsRoutes>> routes_;
  std::unique_ptr<AlertService> service_;
};

}  // namespace

std::unique_ptr<ServeAlertsHandle> StartServeAlerts(const Config& config, const Clock* clock) {
  return std::make_unique<ServeAlertsImpl>(config, clock);
}

}  // namespace apimeter

// AlertsRoutes: GET /api/v1/alerts for `apimeter serve` (docs/api.md):
// alerts pending or firing now, and the recent history, newest first.
//
// Promise: reads only the alert state and history keys (alerts/store.h) over
// its own Redis connection; ?limit (1..1000, default 50) bounds the history.
// Redis trouble → 503, a bad limit → 400, with the usual error shape.
// Thread-safety: not thread-safe; the server calls extensions from one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "alerts/store.h"
#include "config/alerts_config.h"
#include "server/api_handler.h"
#include "sink/redis_client.h"

namespace apimeter {

class AlertsRoutes final : public ApiExtension {
 public:
  // `redis`: a client of its own (redis.url or redis.cluster), not connected yet.
  AlertsRoutes(const AlertsConfig& config, std::unique_ptr<RedisCommands> redis,
               const std::string& prefix);
  std::optional<HttpResponse> Route(std::string_view path, const FormParams& params,
                                    const Clock& clock) override;

  // The JSON of the route, for tests.
  Result<nlohmann::json> Answer(int64_t limit);

 private:
  const AlertsConfig& config_;
  std::unique_ptr<RedisCommands> redis_;
  AlertStore store_;
};

}  // namespace apimeter

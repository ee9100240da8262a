// AlertRunner: one evaluation pass (Tick) of the lease holder, and the
// outbox drain that delivers notifications.
//
// Promise: Tick takes or renews the lease; without it, it changes nothing.
// With it, it evaluates every closed minute after the stored last_minute
// (minute M is closed once now >= M + 60 s + alerts.grace), in order, at most
// alerts.catch_up of them (older ones are skipped with a warning), and
// commits state, history and outbox in one lease-checked write. The first
// pass with no stored state evaluates only the latest closed minute. Time
// comes from the injected Clock, so tests and `--at` need no waiting. A
// failed minute stops the pass; minutes before it are still committed.
// Each pass also queues a repeat of every alert still firing for the
// Alertmanager webhooks (which forget an alert that is not repeated).
// DrainOutbox delivers each webhook's queue in order until it is empty (or
// `stop` says so), skipping queues another live deliverer has claimed: an
// entry is acknowledged after a 2xx, dead-lettered after the last failed
// attempt (logged by the Notifier), left at the head when stopped between
// attempts; a Redis error stops it with the claim held (it expires and the
// entry is delivered again).
// Thread-safety: not thread-safe; the engine, store and notifier must
// outlive the runner.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "alerts/engine.h"
#include "alerts/notifier.h"
#include "alerts/store.h"
#include "common/clock.h"

namespace apimeter {

struct TickResult {
  bool leader = false;  // this process held the lease
  int64_t minutes = 0;  // minutes evaluated
  int64_t skipped = 0;  // minutes older than catch_up, not evaluated
  int64_t events = 0;   // firing + resolved events recorded
  // Instance evaluations that kept their state because the data was
  // partial (damaged blocks, AlertEngine::partial_instances).
  int64_t partial = 0;
  int64_t last_minute = -1;
};

// Start of the latest minute that is closed at now_s.
int64_t LatestClosedMinute(int64_t now_s, int64_t grace_s);

class AlertRunner {
 public:
  AlertRunner(const AlertsConfig& config, AlertEngine* engine, AlertStore* store,
              const Notifier* notifier, const Clock* clock);
  Result<TickResult> Tick();

 private:
  const AlertsConfig& config_;
  AlertEngine* engine_;
  AlertStore* store_;
  const Notifier* notifier_;
  const Clock* clock_;
};

struct DrainResult {
  int64_t taken = 0;      // entries claimed from the outbox
  int64_t delivered = 0;  // acknowledged after a 2xx
  int64_t dead = 0;       // given up on: in the dead-letter list
};
// `webhooks`: the configured webhook names (WebhookNames).
Result<DrainResult> DrainOutbox(AlertStore* store, const Notifier& notifier,
                                const std::vector<std::string>& webhooks,
                                const std::function<bool()>& stop = {});
std::vector<std::string> WebhookNames(const AlertsConfig& config);

}  // namespace apimeter

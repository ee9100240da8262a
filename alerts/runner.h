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
// DrainOutbox pops and delivers entries until the outbox is empty (or
// `stop` says so); delivery failures are logged by the Notifier.
// Thread-safety: not thread-safe; the engine, store and notifier must
// outlive the runner.
#pragma once

#include <cstdint>
#include <functional>

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

// Returns the number of entries taken from the outbox.
Result<int64_t> DrainOutbox(AlertStore* store, const Notifier& notifier,
                            const std::function<bool()>& stop = {});

}  // namespace apimeter

// AlertRunner: lease-guarded evaluation of closed minutes (see runner.h).
#include "alerts/runner.h"

#include <spdlog/spdlog.h>

#include "common/time_util.h"

namespace apimeter {

int64_t LatestClosedMinute(int64_t now_s, int64_t grace_s) {
  const int64_t t = now_s - grace_s - 60;
  return (t >= 0 ? t / 60 : (t - 59) / 60) * 60;
}

AlertRunner::AlertRunner(const AlertsConfig& config, AlertEngine* engine, AlertStore* store,
                         const Notifier* notifier, const Clock* clock)
    : config_(config), engine_(engine), store_(store), notifier_(notifier), clock_(clock) {}

Result<TickResult> AlertRunner::Tick() {
  TickResult tr;
  APIMETER_ASSIGN_OR_RETURN(tr.leader, store_->AcquireLease(config_.lease_ttl_ms));
  if (!tr.leader) return tr;
  APIMETER_ASSIGN_OR_RETURN(AlertState state, store_->LoadState());
  const int64_t latest = LatestClosedMinute(clock_->NowSeconds(), config_.grace_s);
  int64_t start = state.last_minute < 0 ? latest : state.last_minute + 60;
  if (latest - start >= config_.catch_up_s) {
    const int64_t first = latest - config_.catch_up_s + 60;
    tr.skipped = (first - start) / 60;
    spdlog::warn("alerts: {} minutes from {} were not evaluated (more than alerts.catch_up ago)",
                 tr.skipped, FormatIso8601(start));
    start = first;
  }
  std::vector<AlertEvent> events;
  Status failed;
  const int64_t began_us = clock_->NowMicros();
  for (int64_t m = start; m <= latest; m += 60) {
    Result<std::vector<AlertEvent>> ev = engine_->EvaluateMinute(m, &state);
    if (!ev.ok()) {
      failed = ev.status().WithContext("alerts: evaluating " + FormatIso8601(m));
      break;
    }
    ++tr.minutes;
    events.insert(events.end(), ev->begin(), ev->end());
    // A long catch-up keeps the lease alive (half its TTL is the budget).
    if (clock_->NowMicros() - began_us > config_.lease_ttl_ms * 500) {
      APIMETER_ASSIGN_OR_RETURN(bool still, store_->AcquireLease(config_.lease_ttl_ms));
      if (!still) return Status::Aborted("alerts: lost the lease during evaluation");
    }
  }
  if (tr.minutes > 0) {
    APIMETER_RETURN_IF_ERROR(
        store_->Commit(state, events, notifier_->Route(events), config_.lease_ttl_ms));
  }
  tr.events = static_cast<int64_t>(events.size());
  tr.last_minute = state.last_minute;
  if (!failed.ok()) return failed;
  return tr;
}

Result<int64_t> DrainOutbox(AlertStore* store, const Notifier& notifier,
                            const std::function<bool()>& stop) {
  int64_t n = 0;
  while (!stop || !stop()) {
    Result<std::optional<OutboxEntry>> e = store->PopOutbox();
    if (!e.ok()) {
      if (e.status().code() != StatusCode::kParseError) return e.status();
      spdlog::error("alerts: dropped an outbox entry: {}", e.status().message());
      ++n;
      continue;
    }
    if (!e->has_value()) break;
    ++n;
    notifier.Deliver(**e);
  }
  return n;
}

}  // namespace apimeter

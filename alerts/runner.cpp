// AlertRunner: lease-guarded evaluation of closed minutes (see runner.h).
#include "alerts/runner.h"

#include <spdlog/spdlog.h>

#include <set>

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
  const uint64_t partial_before = engine_->partial_instances();
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
    std::vector<OutboxEntry> outbox = notifier_->Route(events);
    // Alertmanager forgets a firing alert that is not repeated (kAlertmanagerHoldS).
    std::set<std::string> fired_now;
    for (const AlertEvent& e : events) fired_now.insert(InstanceKey(e.rule, e.scope, e.name));
    std::vector<AlertEvent> still = engine_->StillFiring(state);
    std::erase_if(still, [&](const AlertEvent& e) {
      return fired_now.count(InstanceKey(e.rule, e.scope, e.name)) > 0;
    });
    for (OutboxEntry& o : notifier_->RouteRepeats(still)) outbox.push_back(std::move(o));
    APIMETER_RETURN_IF_ERROR(store_->Commit(state, events, outbox, config_.lease_ttl_ms));
  }
  tr.events = static_cast<int64_t>(events.size());
  tr.partial = static_cast<int64_t>(engine_->partial_instances() - partial_before);
  tr.last_minute = state.last_minute;
  if (!failed.ok()) return failed;
  return tr;
}

namespace {

// Delivers `webhook`'s queue head by head while this owner holds its claim.
// Returns false when stopping.
Result<bool> DrainQueue(AlertStore* store, const Notifier& notifier, const std::string& webhook,
                        const std::function<bool()>& stop, DrainResult* n) {
  while (!stop || !stop()) {
    APIMETER_ASSIGN_OR_RETURN(std::optional<ClaimedEntry> c,
                              store->Claim(webhook, notifier.FirstClaimMs()));
    if (!c) return true;  // empty, or another deliverer is on it
    ++n->taken;
    if (!c->entry.ok()) {
      spdlog::error("alerts: a notification for webhook '{}' that cannot be read went to the "
                    "dead letters: {}",
                    webhook, c->entry.status().message());
      APIMETER_RETURN_IF_ERROR(store->GiveUp(webhook, c->raw));
      ++n->dead;
      continue;
    }
    const OutboxEntry& e = *c->entry;
    const DeliveryOutcome out = notifier.Deliver(e, [&](int64_t ms) {
      Result<bool> held = store->RenewClaim(webhook, ms);
      if (!held.ok()) {
        spdlog::warn("alerts: renewing the claim on webhook '{}': {}", webhook,
                     held.status().message());
      } else if (!*held) {
        // This process stalled past its claim: another deliverer may send the
        // same entry too; its idempotency key lets the receiver tell.
        spdlog::warn("alerts: the claim on webhook '{}' expired while sending {} {}", webhook,
                     e.event.rule, e.event.kind);
      }
    });
    switch (out) {
      case DeliveryOutcome::kDelivered:
        APIMETER_RETURN_IF_ERROR(store->Ack(webhook, c->raw));
        ++n->delivered;
        break;
      case DeliveryOutcome::kFailed:
        APIMETER_RETURN_IF_ERROR(store->GiveUp(webhook, c->raw));
        ++n->dead;
        break;
      case DeliveryOutcome::kStopped:
        APIMETER_RETURN_IF_ERROR(store->Release(webhook));
        return false;
    }
  }
  APIMETER_RETURN_IF_ERROR(store->Release(webhook));
  return false;
}

}  // namespace

std::vector<std::string> WebhookNames(const AlertsConfig& config) {
  std::vector<std::string> out;
  for (const WebhookConfig& w : config.webhooks) out.push_back(w.name);
  return out;
}

Result<DrainResult> DrainOutbox(AlertStore* store, const Notifier& notifier,
                                const std::vector<std::string>& webhooks,
                                const std::function<bool()>& stop) {
  DrainResult n;
  APIMETER_RETURN_IF_ERROR(store->MigrateLegacyOutbox(webhooks));
  for (const std::string& w : webhooks) {
    APIMETER_ASSIGN_OR_RETURN(bool go_on, DrainQueue(store, notifier, w, stop, &n));
    if (!go_on) break;
  }
  return n;
}

}  // namespace apimeter

// The pure alert evaluator (see evaluator.h for the state machine's rules).
#include "alerts/evaluator.h"

namespace apimeter {

std::string_view AlertPhaseName(AlertPhase p) {
  switch (p) {
    case AlertPhase::kPending:
      return "pending";
    case AlertPhase::kFiring:
      return "firing";
    default:
      return "ok";
  }
}

namespace {

std::optional<double> Percentile(const Rollup& r, AlertMetric m) {
  const double p = m == AlertMetric::kP50   ? 50
                   : m == AlertMetric::kP90 ? 90
                   : m == AlertMetric::kP95 ? 95
                                            : 99;
  std::optional<double> us = r.histogram.PercentileMicros(p);
  if (!us) return std::nullopt;
  return *us / 1000.0;
}

std::optional<double> Rate(const AlertRuleConfig& rule, const Rollup& r) {
  if (r.requests == 0) return std::nullopt;
  return static_cast<double>(r.StatusRange(rule.status_lo, rule.status_hi)) /
         static_cast<double>(r.requests);
}

}  // namespace

std::optional<double> MetricValue(const AlertRuleConfig& rule, const Rollup& window,
                                  int64_t window_s) {
  switch (rule.metric) {
    case AlertMetric::kErrorRate:
      return Rate(rule, window);
    case AlertMetric::kRequests:
      return static_cast<double>(window.requests) / (static_cast<double>(window_s) / 60.0);
    default:
      return Percentile(window, rule.metric);
  }
}

std::optional<double> BaselineValue(const AlertRuleConfig& rule, const std::vector<Rollup>& days) {
  Rollup merged;
  int with_data = 0;
  for (const Rollup& d : days) {
    if (d.requests == 0) continue;
    merged.Merge(d);
    ++with_data;
  }
  if (with_data == 0) return std::nullopt;
  if (rule.metric == AlertMetric::kRequests) {
    return static_cast<double>(merged.requests) / (with_data * 60.0);
  }
  return MetricValue(rule, merged, 3600);
}

Observation Observe(const AlertRuleConfig& rule, const Rollup& window,
                    const std::vector<Rollup>* baseline_days) {
  Observation o;
  o.requests = window.requests;
  o.value = MetricValue(rule, window, rule.window_s);
  if (rule.baseline && baseline_days != nullptr) o.baseline = BaselineValue(rule, *baseline_days);
  // Traffic rules judge silence, so the requests that should have come
  // (from the baseline) must reach min_requests, not the ones that came.
  double counted = static_cast<double>(window.requests);
  if (rule.metric == AlertMetric::kRequests) {
    counted = rule.baseline && o.baseline ? *o.baseline * (rule.window_s / 60.0)
                                          : static_cast<double>(rule.min_requests);
  }
  o.sufficient = o.value.has_value() && (!rule.baseline || o.baseline.has_value()) &&
                 counted >= static_cast<double>(rule.min_requests);
  return o;
}

std::optional<double> AlertLimit(const AlertRuleConfig& rule, const Observation& obs) {
  if (!rule.baseline) return rule.threshold;
  if (!obs.baseline) return std::nullopt;
  return rule.threshold * *obs.baseline;
}

AlertTransition Step(const AlertRuleConfig& rule, int64_t minute_s, const Observation& obs,
                     InstanceState* st) {
  const std::optional<double> limit = AlertLimit(rule, obs);
  bool breach = false, clear = true;
  if (obs.sufficient && limit && obs.value) {
    const double v = *obs.value;
    breach = rule.above ? v > *limit : v < *limit;
    clear = rule.above ? v <= *limit * (1 - rule.hysteresis) : v >= *limit * (1 + rule.hysteresis);
  }
  const bool gap = st->last_minute >= 0 && minute_s - st->last_minute != 60;
  st->last_minute = minute_s;
  st->value = obs.value;
  st->baseline = obs.baseline;
  st->requests = obs.requests;
  // Minutes a run has lasted, counting this one: `for: 5m` needs 5.
  auto lasted = [&](int64_t since) { return minute_s - since + 60; };
  switch (st->phase) {
    case AlertPhase::kOk:
    case AlertPhase::kPending: {
      if (!breach) {
        st->phase = AlertPhase::kOk;
        st->breach_since = -1;
        return AlertTransition::kNone;
      }
      const bool started = st->phase == AlertPhase::kOk || gap;
      if (started) st->breach_since = minute_s;
      if (lasted(st->breach_since) >= rule.for_s) {
        st->phase = AlertPhase::kFiring;
        st->firing_since = minute_s;
        st->clear_since = -1;
        return AlertTransition::kFiring;
      }
      st->phase = AlertPhase::kPending;
      return started ? AlertTransition::kPending : AlertTransition::kNone;
    }
    case AlertPhase::kFiring:
      if (!clear) {
        st->clear_since = -1;
        return AlertTransition::kNone;
      }
      if (st->clear_since < 0 || gap) st->clear_since = minute_s;
      if (lasted(st->clear_since) >= rule.resolve_for_s) {
        st->phase = AlertPhase::kOk;
        st->breach_since = -1;
        st->clear_since = -1;
        return AlertTransition::kResolved;
      }
      return AlertTransition::kNone;
  }
  return AlertTransition::kNone;
}

}  // namespace apimeter

// The alert evaluator's pure core: values in, state transitions out.
//
// Promise: no I/O, no clock. MetricValue / BaselineValue turn rollups into
// the number a rule compares (ms, fraction, requests per minute); Step moves
// one rule instance through ok → pending → firing → ok (resolved) for one
// closed minute, applying `for:`, `resolve_for:`, min_requests and the
// hysteresis band, so a value hovering at the threshold does not flap:
//   - breach: value strictly above (below) the limit, where the limit is the
//     threshold, or threshold × baseline for baseline rules;
//   - clear: value at or below limit × (1 − hysteresis) (at or above limit ×
//     (1 + hysteresis) for `below` rules), or no verdict possible (too few
//     requests, value or baseline not computable);
//   - in between: a firing alert stays firing, a pending one goes back to ok.
// Minutes must be stepped in increasing order; a gap restarts the runs.
// Thread-safety: stateless functions over caller-owned values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/rollup.h"
#include "config/alerts_config.h"

namespace apimeter {

enum class AlertPhase { kOk, kPending, kFiring };
std::string_view AlertPhaseName(AlertPhase p);

struct InstanceState {
  AlertPhase phase = AlertPhase::kOk;
  int64_t breach_since = -1;  // first minute of the current breach run
  int64_t firing_since = -1;  // minute the alert fired
  int64_t clear_since = -1;   // first minute of the current clear run while firing
  int64_t last_minute = -1;   // last minute stepped
  std::optional<double> value, baseline;
  uint64_t requests = 0;
};

// What one closed minute shows for one rule instance.
struct Observation {
  std::optional<double> value;     // the metric over the rule's window
  std::optional<double> baseline;  // baseline rules: same hour of day, last 7 days
  uint64_t requests = 0;           // requests in the window
  bool sufficient = false;         // min_requests met and everything needed known
};

enum class AlertTransition { kNone, kPending, kFiring, kResolved };

// The metric of `window` (window_s seconds long); nullopt when it cannot be
// computed (no requests for a rate, no latencies for a percentile).
std::optional<double> MetricValue(const AlertRuleConfig& rule, const Rollup& window,
                                  int64_t window_s);
// The baseline from the same hour of up to 7 earlier days (one rollup per day
// that had traffic in that hour): latency and rates from the merged rollup,
// requests as the average per minute over those days. nullopt without data.
std::optional<double> BaselineValue(const AlertRuleConfig& rule, const std::vector<Rollup>& days);

// Puts value, baseline and sufficiency together (see the header comment).
Observation Observe(const AlertRuleConfig& rule, const Rollup& window,
                    const std::vector<Rollup>* baseline_days);

// The value the metric is compared with; nullopt when a baseline is missing.
std::optional<double> AlertLimit(const AlertRuleConfig& rule, const Observation& obs);

AlertTransition Step(const AlertRuleConfig& rule, int64_t minute_s, const Observation& obs,
                     InstanceState* st);

}  // namespace apimeter

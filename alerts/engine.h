// AlertEngine: evaluates every rule for one closed minute against the
// aggregates, turning the evaluator's transitions (alerts/evaluator.h) into
// alert events, and the AlertState those transitions live in.
//
// Promise: EvaluateMinute reads only through AlertDataSource (one merged
// rollup per rule instance and window; the baseline is the same hour of day
// on each of the last 7 days, from the hour tier, cached per hour), changes
// only the AlertState it is given, and returns firing/resolved events in rule
// order. Instances: one per rule, or one per endpoint/customer matching the
// rule's regex among the 1000 busiest of the last hour (at most
// max_instances), plus every instance the state still holds as pending or
// firing, so an alert whose endpoint went silent can still resolve. A
// data-source error fails the minute without changing the state. An
// instance whose window or baseline was read partial (a damaged block left
// out) keeps its state for that minute: no event, a warning naming the
// keys, counted in partial_instances(); the other instances go on.
// AlertState and AlertEvent round-trip through JSON (the form kept in Redis).
// Thread-safety: not thread-safe; one engine per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "alerts/evaluator.h"
#include "common/result.h"
#include "config/alerts_config.h"

namespace apimeter {

class QueryEngine;

// What the engine reads. Production: QueryEngineSource.
class AlertDataSource {
 public:
  virtual ~AlertDataSource() = default;
  // The merged rollup of one series over [from_s, to_s).
  virtual Result<Rollup> Total(SeriesKind kind, const std::string& name, int64_t from_s,
                               int64_t to_s) = 0;
  // The busiest endpoint (customers = false) or customer names in [from_s, to_s).
  virtual Result<std::vector<std::string>> Names(bool customers, int64_t from_s, int64_t to_s,
                                                 int64_t limit) = 0;
  // The keys of stored blocks left out as damaged (storage v2: the answer
  // was partial, docs/storage-v2.md "Reading") by the calls since the last
  // TakeDamaged; empty when every answer was whole.
  virtual std::set<std::string> TakeDamaged() { return {}; }
};

class QueryEngineSource final : public AlertDataSource {
 public:
  explicit QueryEngineSource(QueryEngine* engine) : engine_(engine) {}
  Result<Rollup> Total(SeriesKind kind, const std::string& name, int64_t from_s,
                       int64_t to_s) override;
  Result<std::vector<std::string>> Names(bool customers, int64_t from_s, int64_t to_s,
                                         int64_t limit) override;
  std::set<std::string> TakeDamaged() override { return std::exchange(damaged_, {}); }

 private:
  void NoteDamage();
  QueryEngine* engine_;
  std::set<std::string> damaged_;
};

struct AlertInstance {
  std::string rule;
  std::string scope;  // all | host | endpoint | customer
  std::string name;   // the host, endpoint or customer; "" for all
  InstanceState state;
};

struct AlertState {
  int64_t last_minute = -1;                        // last minute evaluated; -1: none yet
  std::map<std::string, AlertInstance> instances;  // pending and firing only
};

struct AlertEvent {
  std::string kind;  // firing | resolved
  std::string rule, severity;
  std::map<std::string, std::string> labels;
  std::string scope, name;
  std::string metric, condition;  // e.g. "p99", "above 500ms"
  int64_t minute_s = 0;           // the closed minute whose evaluation fired / resolved it
  int64_t since_s = 0;            // firing: first breaching minute; resolved: when it fired
  std::optional<double> value, baseline, limit;
  uint64_t requests = 0;
  int64_t window_s = 60;
  std::vector<std::string> webhooks;  // names; empty = all
};

nlohmann::json AlertEventToJson(const AlertEvent& e);
Result<AlertEvent> AlertEventFromJson(const nlohmann::json& j);
nlohmann::json AlertStateToJson(const AlertState& s);
Result<AlertState> AlertStateFromJson(const nlohmann::json& j);
// "rule\x1fscope\x1fname": the key of an instance in AlertState.
std::string InstanceKey(const std::string& rule, const std::string& scope, const std::string& name);

class AlertEngine {
 public:
  AlertEngine(const AlertsConfig& config, AlertDataSource* source);
  ~AlertEngine();

  // Evaluates minute [minute_s, minute_s + 60) (minute_s a multiple of 60)
  // and sets state->last_minute to it.
  Result<std::vector<AlertEvent>> EvaluateMinute(int64_t minute_s, AlertState* state);

  // A "firing" event for every instance firing in `state`, as of its last
  // minute: minute = state.last_minute, since = the minute it fired, value
  // and limit as last evaluated (Alertmanager repeats, alerts/notifier.h).
  std::vector<AlertEvent> StillFiring(const AlertState& state) const;

  // Requests in the rule windows evaluated so far, summed over rules,
  // instances and minutes: 0 after a replay means the rules saw no data at
  // all, which `alerts test` must say rather than print a bare "0 events".
  uint64_t window_requests() const { return window_requests_; }
  // Instance evaluations held back because their data was partial (a
  // damaged block, storage v2): the instance kept its state for that minute
  // (no firing, no resolving on partial numbers), with a warning logged.
  uint64_t partial_instances() const { return partial_instances_; }

 private:
  struct Compiled;
  Result<std::vector<AlertInstance>> Instances(const Compiled& rule, int64_t minute_s,
                                               const AlertState& state);
  Result<std::vector<Rollup>> Baseline(const AlertInstance& inst, int64_t minute_s);

  const AlertsConfig& config_;
  AlertDataSource* source_;
  std::vector<std::unique_ptr<Compiled>> rules_;
  uint64_t window_requests_ = 0;
  uint64_t partial_instances_ = 0;
  int64_t baseline_hour_ = -1;
  std::map<std::string, std::vector<Rollup>> baseline_cache_;  // this hour's, by scope key
};

}  // namespace apimeter

// TestRule and FakeSource for the alert tests. FakeSource: an in-memory AlertDataSource for the
// alert tests: per-minute rollups per series, summed over any range, so windows and hour baselines
// are computed from the same ground truth the test wrote.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "alerts/engine.h"

namespace apimeter::testing {

// A rule with the defaults the loader gives (10% hysteresis, resolve_for 1m).
inline AlertRuleConfig TestRule(std::string name, AlertMetric metric, std::string metric_text,
                                double threshold = 0, std::string threshold_text = "") {
  AlertRuleConfig r;
  r.name = std::move(name);
  r.metric = metric;
  r.metric_text = std::move(metric_text);
  r.threshold = threshold;
  r.threshold_text = std::move(threshold_text);
  r.hysteresis = 0.1;
  r.resolve_for_s = 60;
  return r;
}

class FakeSource final : public AlertDataSource {
 public:
  // Adds `n` requests at minute_s with this status and latency (ms).
  void Add(SeriesKind kind, const std::string& name, int64_t minute_s, uint64_t n, int status,
           int64_t latency_ms) {
    Rollup& r = data_[{kind, name}][minute_s / 60 * 60];
    for (uint64_t i = 0; i < n; ++i) r.AddRequest(status, 0, 0, latency_ms * 1000);
  }
  Result<Rollup> Total(SeriesKind kind, const std::string& name, int64_t from_s,
                       int64_t to_s) override {
    ++calls;
    if (fail) return Status::Unavailable("redis down");
    if (!damaged.empty()) pending_damage_.insert(damaged);
    Rollup out;
    auto it = data_.find({kind, name});
    if (it == data_.end()) return out;
    for (auto m = it->second.lower_bound(from_s); m != it->second.end() && m->first < to_s; ++m) {
      out.Merge(m->second);
    }
    return out;
  }
  Result<std::vector<std::string>> Names(bool customers, int64_t from_s, int64_t to_s,
                                         int64_t) override {
    std::vector<std::string> out;
    const SeriesKind kind = customers ? SeriesKind::kCustomer : SeriesKind::kEndpoint;
    for (const auto& [key, minutes] : data_) {
      if (key.first != kind) continue;
      for (auto m = minutes.lower_bound(from_s); m != minutes.end() && m->first < to_s; ++m) {
        if (m->second.requests > 0) {
          out.push_back(key.second);
          break;
        }
      }
    }
    return out;
  }
  std::set<std::string> TakeDamaged() override { return std::exchange(pending_damage_, {}); }
  int calls = 0;
  bool fail = false;
  std::string damaged;  // non-empty: every Total answer is partial, this key left out

 private:
  std::set<std::string> pending_damage_;
  std::map<std::pair<SeriesKind, std::string>, std::map<int64_t, Rollup>> data_;
};

}  // namespace apimeter::testing

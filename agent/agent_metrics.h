// AgentMetrics: the live agent's own counters, rendered in the Prometheus
// text exposition format and summarised in the log once a minute.
//
// Promise: plain counters and gauges updated by the agent's single event-loop
// thread; Render() produces valid text format (HELP/TYPE lines, one sample per
// line). No host label: the scrape target is the host (the name the agent
// stores its counts under is in the log and in `apimeter check-config`).
// Rejected lines are one family, apimeter_api_rejected_lines_total{reason},
// with every reason present from the start. Not thread-safe: render on the
// loop thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "common/prometheus_text.h"

namespace apimeter {

struct AgentMetrics {
  static constexpr std::array<double, 9> kFlushBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                          0.25,  0.5,  1,     5};
  // Counters
  uint64_t lines_read = 0;
  uint64_t lines_parsed = 0;
  uint64_t lines_rejected = 0;  // for the log summary; exported by reason only
  std::map<std::string, uint64_t> rejected_by_reason;  // every reason, zeros included
  // Parsed lines counted as anonymous because the customer value gave no key
  // (CustomerKeyErrorName → count); rendered only for sources that extract keys.
  std::map<std::string, uint64_t> customer_key_errors;
  uint64_t bytes_read = 0;
  uint64_t rotations = 0;
  uint64_t truncations = 0;
  uint64_t flushes = 0;
  uint64_t flush_failures = 0;
  uint64_t read_errors = 0;
  uint64_t reloads = 0;
  uint64_t reload_failures = 0;
  // Committed flushes' durations: a histogram (its count is `flushes`).
  double flush_seconds_sum = 0;
  std::array<uint64_t, kFlushBuckets.size()> flush_buckets{};
  // Redis Cluster only (sink/cluster_client.h): redirects followed, topology reloads.
  uint64_t cluster_moved = 0;
  uint64_t cluster_ask = 0;
  uint64_t cluster_refreshes = 0;
  // The store (sink/sink.h SinkStats), storage v2 only: delta blocks
  // appended and their bytes, compactions (done, lost to another compactor,
  // failed, waiting), name-registry script calls and names refused.
  struct Store {
    int schema = 0;  // 0 = not known yet; the v2 samples are rendered for 2
    uint64_t blocks = 0, block_bytes = 0, compactions = 0, compaction_lost_races = 0,
             compaction_failures = 0, compactions_pending = 0, registry_calls = 0,
             registry_refused = 0;
  } store;
  // Gauges
  double last_flush_seconds = 0;
  uint64_t files_open = 0;
  uint64_t bytes_behind = 0;       // unread bytes in the files being tailed
  double seconds_behind = 0;       // now minus the newest line's timestamp
  uint64_t aggregator_bytes = 0;   // in-memory aggregates not yet in Redis
  uint64_t rss_bytes = 0;
  bool paused = false;             // reading paused: memory bound hit while Redis is down
  bool redis_up = true;
  int64_t last_success_flush_s = 0;

  // A committed flush of `seconds`: flushes, the histogram, last_flush_seconds.
  void ObserveFlush(double seconds);
  void Render(PrometheusText* out) const;
  std::string Summary() const;  // one log line
};

// Resident set size of this process, from /proc/self/statm (0 if unknown).
uint64_t ReadRssBytes();

}  // namespace apimeter

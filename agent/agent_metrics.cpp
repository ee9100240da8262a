#include "agent/agent_metrics.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>


namespace apimeter {

void AgentMetrics::ObserveFlush(double seconds) {
  ++flushes;
  flush_seconds_sum += seconds;
  last_flush_seconds = seconds;
  for (size_t i = 0; i < kFlushBuckets.size(); ++i) {
    if (seconds <= kFlushBuckets[i]) {
      ++flush_buckets[i];
      break;
    }
  }
}

void AgentMetrics::Render(PrometheusText* out) const {
  auto w = [out](const char* name, const char* type, const char* help, double value) {
    out->Metric(name, type, help, "", value);
  };
  auto u = [](uint64_t v) { return static_cast<double>(v); };
  w("apimeter_agent_lines_read_total", "counter", "Complete lines read from log files.", u(lines_read));
  w("apimeter_agent_lines_parsed_total", "counter", "Lines parsed and counted.", u(lines_parsed));
  out->Family("apimeter_api_rejected_lines_total", "counter",
              "Log lines rejected (malformed, too long, dated in the future), by reason; "
              "counted and sampled, never stored as requests.");
  for (const auto& [reason, n] : rejected_by_reason) {
    out->Sample("apimeter_api_rejected_lines_total", PrometheusText::Label("reason", reason), u(n));
  }
  for (const auto& [reason, n] : customer_key_errors) {
    out->Metric("apimeter_agent_customer_key_errors_total", "counter",
                "Parsed lines counted as anonymous: the customer value gave no key.",
                PrometheusText::Label("reason", reason), u(n));
  }
  w("apimeter_agent_bytes_read_total", "counter", "Bytes read from log files.", u(bytes_read));
  w("apimeter_agent_rotations_total", "counter", "Log rotations followed.", u(rotations));
  w("apimeter_agent_truncations_total", "counter", "Truncations (copytruncate) followed.", u(truncations));
  w("apimeter_agent_read_errors_total", "counter", "Failed reads of log files.", u(read_errors));
  w("apimeter_agent_flushes_total", "counter", "Flushes committed to Redis.", u(flushes));
  w("apimeter_agent_flush_failures_total", "counter", "Flush attempts that failed.", u(flush_failures));
  w("apimeter_agent_redis_cluster_moved_total", "counter",
    "Redis Cluster MOVED redirects followed.", u(cluster_moved));
  w("apimeter_agent_redis_cluster_ask_total", "counter", "Redis Cluster ASK redirects followed.",
    u(cluster_ask));
  w("apimeter_agent_redis_cluster_topology_reloads_total", "counter",
    "Redis Cluster topology reloads (CLUSTER SLOTS).", u(cluster_refreshes));
  out->Family("apimeter_agent_flush_duration_seconds", "histogram",
              "Duration of committed flushes to Redis.");
  out->Histogram("apimeter_agent_flush_duration_seconds", "", kFlushBuckets, flush_buckets,
                 flush_seconds_sum, flushes);
  w("apimeter_agent_last_flush_seconds", "gauge", "Duration of the last committed flush.", last_flush_seconds);
  w("apimeter_agent_last_flush_timestamp_seconds", "gauge", "When the last flush committed.",
    static_cast<double>(last_success_flush_s));
  w("apimeter_agent_reloads_total", "counter", "Config reloads (SIGHUP) applied.", u(reloads));
  w("apimeter_agent_reload_failures_total", "counter", "Config reloads refused.", u(reload_failures));
  w("apimeter_agent_files_open", "gauge", "Log files being tailed.", u(files_open));
  w("apimeter_agent_lag_bytes", "gauge", "Bytes written to tailed files but not read yet.", u(bytes_behind));
  w("apimeter_agent_lag_seconds", "gauge", "Now minus the newest line's timestamp.", seconds_behind);
  w("apimeter_agent_pending_aggregate_bytes", "gauge", "In-memory aggregates not yet in Redis.",
    u(aggregator_bytes));
  w("apimeter_agent_reading_paused", "gauge", "1 while reading is paused (memory bound, Redis down).",
    paused ? 1 : 0);
  w("apimeter_agent_redis_up", "gauge", "1 if the last flush attempt reached Redis.", redis_up ? 1 : 0);
  if (store.schema == 2) {  // storage v2 (docs/storage-v2.md)
    w("apimeter_agent_store_blocks_total", "counter", "Delta blocks appended to Redis.", u(store.blocks));
    w("apimeter_agent_store_block_bytes_total", "counter", "Encoded bytes of the delta blocks appended.", u(store.block_bytes));
    w("apimeter_agent_store_compactions_total", "counter", "Block groups compacted into one base block.", u(store.compactions));
    w("apimeter_agent_store_compaction_lost_races_total", "counter", "Compactions left to another compactor that ran first.", u(store.compaction_lost_races));
    w("apimeter_agent_store_compaction_failures_total", "counter", "Compaction rounds that failed (retried later).", u(store.compaction_failures));
    w("apimeter_agent_store_compactions_pending", "gauge", "Block groups waiting for compaction.", u(store.compactions_pending));
    w("apimeter_agent_store_registry_calls_total", "counter", "Name-registry script calls (names new to this agent).", u(store.registry_calls));
    w("apimeter_agent_store_registry_refused_total", "counter", "Names stored as other: their day was full.", u(store.registry_refused));
  }
}

std::string AgentMetrics::Summary() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "lines read=%llu parsed=%llu rejected=%llu bytes=%llu rotations=%llu "
                "flushes=%llu failures=%llu last_flush=%.3fs files=%llu lag=%lluB/%.1fs "
                "pending=%lluB rss=%lluB%s%s",
                static_cast<unsigned long long>(lines_read),
                static_cast<unsigned long long>(lines_parsed),
                static_cast<unsigned long long>(lines_rejected),
                static_cast<unsigned long long>(bytes_read),
                static_cast<unsigned long long>(rotations), static_cast<unsigned long long>(flushes),
                static_cast<unsigned long long>(flush_failures), last_flush_seconds,
                static_cast<unsigned long long>(files_open),
                static_cast<unsigned long long>(bytes_behind), seconds_behind,
                static_cast<unsigned long long>(aggregator_bytes),
                static_cast<unsigned long long>(rss_bytes), paused ? " PAUSED" : "",
                redis_up ? "" : " REDIS-DOWN");
  return buf;
}

uint64_t ReadRssBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace apimeter

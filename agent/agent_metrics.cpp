#include "agent/agent_metrics.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "common/prometheus_text.h"

namespace apimeter {
namespace {

// The agent's samples all carry its host label; some add a reason.
class Writer {
 public:
  explicit Writer(const std::string& host) : host_(PrometheusText::Label("host", host)) {}
  void Metric(const char* name, const char* type, const char* help, double value) {
    out_.Metric(name, type, help, host_, value);
  }
  void Metric(const char* name, const char* type, const char* help, double value,
              const std::string& reason) {
    out_.Metric(name, type, help, host_ + "," + PrometheusText::Label("reason", reason), value);
  }
  std::string str() const { return out_.str(); }

 private:
  std::string host_;
  PrometheusText out_;
};

}  // namespace

std::string AgentMetrics::Render() const {
  Writer w(host);
  w.Metric("apimeter_agent_lines_read_total", "counter", "Complete lines read from log files.", lines_read);
  w.Metric("apimeter_agent_lines_parsed_total", "counter", "Lines parsed and counted.", lines_parsed);
  w.Metric("apimeter_agent_lines_rejected_total", "counter", "Malformed lines, counted and sampled.", lines_rejected);
  for (const auto& [reason, n] : rejected_by_reason) {
    w.Metric("apimeter_agent_lines_rejected_by_reason_total", "counter",
             "Malformed lines by reason.", n, reason);
  }
  for (const auto& [reason, n] : customer_key_errors) {
    w.Metric("apimeter_agent_customer_key_errors_total", "counter",
             "Parsed lines counted as anonymous: the customer value gave no key.", n,
             reason);
  }
  w.Metric("apimeter_agent_bytes_read_total", "counter", "Bytes read from log files.", bytes_read);
  w.Metric("apimeter_agent_rotations_total", "counter", "Log rotations followed.", rotations);
  w.Metric("apimeter_agent_truncations_total", "counter", "Truncations (copytruncate) followed.", truncations);
  w.Metric("apimeter_agent_read_errors_total", "counter", "Failed reads of log files.", read_errors);
  w.Metric("apimeter_agent_flushes_total", "counter", "Flushes committed to Redis.", flushes);
  w.Metric("apimeter_agent_flush_failures_total", "counter", "Flush attempts that failed.", flush_failures);
  w.Metric("apimeter_agent_redis_cluster_moved_total", "counter",
           "Redis Cluster MOVED redirects followed.", cluster_moved);
  w.Metric("apimeter_agent_redis_cluster_ask_total", "counter",
           "Redis Cluster ASK redirects followed.", cluster_ask);
  w.Metric("apimeter_agent_redis_cluster_topology_reloads_total", "counter",
           "Redis Cluster topology reloads (CLUSTER SLOTS).", cluster_refreshes);
  w.Metric("apimeter_agent_flush_seconds_sum", "counter", "Time spent in committed flushes.", flush_seconds_sum);
  w.Metric("apimeter_agent_last_flush_seconds", "gauge", "Duration of the last committed flush.", last_flush_seconds);
  w.Metric("apimeter_agent_last_flush_timestamp_seconds", "gauge", "When the last flush committed.", static_cast<double>(last_success_flush_s));
  w.Metric("apimeter_agent_reloads_total", "counter", "Config reloads (SIGHUP) applied.", reloads);
  w.Metric("apimeter_agent_reload_failures_total", "counter", "Config reloads refused.", reload_failures);
  w.Metric("apimeter_agent_files_open", "gauge", "Log files being tailed.", files_open);
  w.Metric("apimeter_agent_lag_bytes", "gauge", "Bytes written to tailed files but not read yet.", bytes_behind);
  w.Metric("apimeter_agent_lag_seconds", "gauge", "Now minus the newest line's timestamp.", seconds_behind);
  w.Metric("apimeter_agent_pending_aggregate_bytes", "gauge", "In-memory aggregates not yet in Redis.", aggregator_bytes);
  w.Metric("apimeter_agent_resident_memory_bytes", "gauge", "Resident set size.", rss_bytes);
  w.Metric("apimeter_agent_reading_paused", "gauge", "1 while reading is paused (memory bound, Redis down).", paused ? 1 : 0);
  w.Metric("apimeter_agent_redis_up", "gauge", "1 if the last flush attempt reached Redis.", redis_up ? 1 : 0);
  if (store.schema == 2) {  // storage v2 (docs/storage-v2.md)
    w.Metric("apimeter_agent_store_blocks_total", "counter", "Delta blocks appended to Redis.", store.blocks);
    w.Metric("apimeter_agent_store_block_bytes_total", "counter", "Encoded bytes of the delta blocks appended.", store.block_bytes);
    w.Metric("apimeter_agent_store_compactions_total", "counter", "Block groups compacted into one base block.", store.compactions);
    w.Metric("apimeter_agent_store_compaction_lost_races_total", "counter", "Compactions left to another compactor that ran first.", store.compaction_lost_races);
    w.Metric("apimeter_agent_store_compaction_failures_total", "counter", "Compaction rounds that failed (retried later).", store.compaction_failures);
    w.Metric("apimeter_agent_store_compactions_pending", "gauge", "Block groups waiting for compaction.", store.compactions_pending);
    w.Metric("apimeter_agent_store_registry_calls_total", "counter", "Name-registry script calls (names new to this agent).", store.registry_calls);
    w.Metric("apimeter_agent_store_registry_refused_total", "counter", "Names stored as other: their day was full.", store.registry_refused);
  }
  return w.str();
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

// Process metrics: the standard process_* families every Prometheus client
// exports (process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds), read from /proc, and apimeter_build_info.
//
// Promise: ParseProcSelfStat is pure (tests feed it text); ReadProcessStats
// reads /proc/self/stat, /proc/stat (btime), /proc/self/fd and RLIMIT_NOFILE
// and leaves a field unset when it cannot be read, so WriteProcessMetrics
// omits that family instead of exporting a zero that looks like a value.
// Thread-safe: no shared state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/prometheus_text.h"

namespace apimeter {

struct ProcessStats {
  std::optional<double> cpu_seconds;       // user + system
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> start_time_seconds;  // Unix time
  std::optional<double> open_fds;
  std::optional<double> max_fds;
};

// Fills cpu, resident, virtual and start time from the text of /proc/<pid>/stat.
// ticks_per_second: sysconf(_SC_CLK_TCK); boot_time_s: btime of /proc/stat.
bool ParseProcSelfStat(std::string_view stat, double ticks_per_second, double page_bytes,
                       double boot_time_s, ProcessStats* out);

ProcessStats ReadProcessStats();

void WriteProcessMetrics(const ProcessStats& stats, PrometheusText* out);

// apimeter_build_info{version, revision, component} 1: which build answers.
void WriteBuildInfo(std::string_view version, std::string_view revision,
                    std::string_view component, PrometheusText* out);

}  // namespace apimeter

#include "common/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace apimeter {

bool ParseProcSelfStat(std::string_view stat, double ticks_per_second, double page_bytes,
                       double boot_time_s, ProcessStats* out) {
  // The command name (field 2) is in parentheses and may hold spaces or ')':
  // the fields that follow start after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return false;
  std::istringstream in(std::string(stat.substr(close + 1)));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() < 22) return false;
  auto field = [&](int n) { return std::strtod(fields[n - 3].c_str(), nullptr); };
  out->cpu_seconds = (field(14) + field(15)) / ticks_per_second;
  out->start_time_seconds = boot_time_s + field(22) / ticks_per_second;
  out->virtual_bytes = field(23);
  out->resident_bytes = field(24) * page_bytes;
  return true;
}

namespace {

std::optional<double> BootTime() {
  std::ifstream f("/proc/stat");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return std::nullopt;
  double n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats s;
  std::ifstream f("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::optional<double> boot = BootTime();
  if (boot && !ParseProcSelfStat(stat, static_cast<double>(::sysconf(_SC_CLK_TCK)),
                                 static_cast<double>(::sysconf(_SC_PAGESIZE)), *boot, &s)) {
    s = ProcessStats{};
  }
  s.open_fds = OpenFds();
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    s.max_fds = static_cast<double>(lim.rlim_cur);
  }
  return s;
}

void WriteProcessMetrics(const ProcessStats& s, PrometheusText* out) {
  auto put = [out](const char* name, const char* type, const char* help,
                   const std::optional<double>& v) {
    if (v) out->Metric(name, type, help, "", *v);
  };
  put("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
      s.cpu_seconds);
  put("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
      s.resident_bytes);
  put("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", s.virtual_bytes);
  put("process_start_time_seconds", "gauge",
      "Start time of the process since unix epoch in seconds.", s.start_time_seconds);
  put("process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds);
  put("process_max_fds", "gauge", "Maximum number of open file descriptors.", s.max_fds);
}

void WriteBuildInfo(std::string_view version, std::string_view revision,
                    std::string_view component, PrometheusText* out) {
  out->Metric("apimeter_build_info", "gauge",
              "Always 1; the labels say which apimeter build and command answer.",
              PrometheusText::Label("version", version) + "," +
                  PrometheusText::Label("revision", revision) + "," +
                  PrometheusText::Label("component", component),
              1);
}

}  // namespace apimeter

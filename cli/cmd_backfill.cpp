// `apimeter backfill`: loads old log files into the aggregates, exactly once.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "agent/backfill.h"
#include "agent/log_file_reader.h"
#include "agent/runtime.h"
#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "common/time_util.h"

namespace apimeter {
namespace {

struct BackfillArgs {
  std::string config;
  std::vector<std::string> files;
  bool no_progress = false;
  bool show_raw_lines = false;  // rejected samples unmasked (API keys shown)
  int jobs = 1;                 // lanes (parse + aggregate threads)
};

constexpr int kMaxJobs = 16;

// The pipelines and aggregators of a backfill's lanes for one file
// (agent/backfill_lanes.h). Lane 0 uses the runtime's customer resolver; the
// others have their own (a resolver is not thread-safe).
struct FileLanes {
  std::vector<std::unique_ptr<CustomerResolver>> resolvers;
  std::vector<std::unique_ptr<Aggregator>> aggregators;
  std::vector<RejectedLines> rejected;
  std::vector<std::unique_ptr<LinePipeline>> pipelines;
  std::vector<BackfillLane> lanes;

  FileLanes(Runtime& runtime, SourceRuntime& src, const Clock* clock, bool show_raw_lines,
            int count)
      : rejected(static_cast<size_t>(count)) {
    AggregatorOptions ao = runtime.aggregator_options();
    ao.host = src.config.host;
    for (int i = 0; i < count; ++i) {
      CustomerResolver* customers = &runtime.customers();
      if (i > 0) customers = resolvers.emplace_back(runtime.NewCustomerResolver()).get();
      aggregators.push_back(std::make_unique<Aggregator>(ao));
      pipelines.push_back(std::make_unique<LinePipeline>(
          &src.parser, &src.customer_key, &runtime.normalizer(), customers,
          aggregators.back().get(), &rejected[static_cast<size_t>(i)], clock,
          runtime.pipeline_options(show_raw_lines)));
      lanes.push_back(BackfillLane{pipelines.back().get(), aggregators.back().get()});
    }
    // One lane flushes on a thread of its own, into a second aggregator
    // (agent/backfill.h); several lanes flush between their batches.
    if (count == 1) {
      aggregators.push_back(std::make_unique<Aggregator>(ao));
      lanes.front().spare = aggregators.back().get();
    }
  }
  // How many times the backfill's memory limit may be held at once: the
  // lanes share one limit (it bounds their sum), a spare doubles it.
  size_t limits_held_at_once() const { return lanes.front().spare != nullptr ? 2 : 1; }
  uint64_t parsed() const { return Sum(&LinePipeline::parsed); }
  uint64_t rejected_lines() const { return Sum(&LinePipeline::rejected); }
  uint64_t key_errors(CustomerKeyError e) const {
    uint64_t n = 0;
    for (const auto& p : pipelines) n += p->customer_key_errors(e);
    return n;
  }
  int64_t min_time_us() const {
    int64_t t = INT64_MAX;
    for (const auto& p : pipelines) t = std::min(t, p->min_time_us());
    return t;
  }
  int64_t max_time_us() const {
    int64_t t = INT64_MIN;
    for (const auto& p : pipelines) t = std::max(t, p->max_time_us());
    return t;
  }

 private:
  uint64_t Sum(uint64_t (LinePipeline::*count)() const) const {
    uint64_t n = 0;
    for (const auto& p : pipelines) n += ((*p).*count)();
    return n;
  }
};

constexpr size_t kMaxBackfillBatchBytes = size_t{48} << 20;

std::string TimeOrDash(int64_t us, bool valid) {
  return valid ? FormatIso8601(us / kMicrosPerSecond) : "-";
}

int RunBackfill(const BackfillArgs& args) {
  SystemClock clock;
  auto rt = LoadRuntimeOrLog(args.config, &clock);
  if (!rt) return kExitConfig;
  Runtime& runtime = *rt;
  if (args.show_raw_lines) WarnShowRawLines();

  // Which files, and which source reads each.
  std::vector<std::pair<std::string, SourceRuntime*>> work;
  if (args.files.empty()) {
    for (auto& src : runtime.sources()) {
      for (auto& p : ExpandSourcePaths(src.config)) work.emplace_back(p, &src);
    }
  } else {
    for (const auto& p : SortOldestFirst(args.files)) {
      auto src = runtime.SourceForFile(p);
      if (!src.ok()) {
        spdlog::error("{}", src.status().message());
        return kExitConfig;
      }
      work.emplace_back(p, *src);
    }
  }
  if (work.empty()) {
    spdlog::error("no log files found: the sources' paths match nothing, and no FILES were given");
    return kExitRuntime;
  }
  if (Status st = runtime.ConnectRedis(); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitRuntime;
  }

  uint64_t total_disk = 0;
  for (const auto& [p, src] : work) {
    if (auto r = LogFileReader::Open(p); r.ok()) total_disk += (*r)->disk_size();
  }
  const bool tty = !args.no_progress && ::isatty(STDERR_FILENO);
  ProgressBar bar(tty);
  RealSleeper sleeper;
  RejectedLines rejected;
  const auto started = std::chrono::steady_clock::now();
  const uint64_t commands_before = runtime.redis().commands_sent();

  BackfillStats totals;
  uint64_t parsed = 0, rejected_count = 0, disk_before = 0;
  std::array<uint64_t, kCustomerKeyErrorCount> key_errors{};
  bool extracts_keys = false;
  int64_t min_t = INT64_MAX, max_t = INT64_MIN;
  int exit_code = kExitOk;
  for (size_t i = 0; i < work.size(); ++i) {
    const auto& [path, src] = work[i];
    FileLanes file_lanes(runtime, *src, &clock, args.show_raw_lines, args.jobs);
    BackfillOptions bo;
    bo.host = src->config.host;
    bo.max_line_bytes = static_cast<size_t>(runtime.config().limits.max_line_bytes);
    // A flush is one Redis transaction: keeping batches to tens of MB keeps
    // each EXEC well inside the command timeout. limits.memory_mb bounds
    // every aggregator held at once (two when flushing in the background).
    bo.memory_limit_bytes = std::min<size_t>(
        (static_cast<size_t>(runtime.config().limits.memory_mb) << 20) / file_lanes.limits_held_at_once(),
        kMaxBackfillBatchBytes);
    Backfiller backfiller(bo, &runtime.sink(), &sleeper);
    Status st = backfiller.RunFile(path, file_lanes.lanes, [&](uint64_t disk_done, uint64_t lines) {
      const uint64_t all_lines = totals.lines + lines;
      const double elapsed = bar.Elapsed();
      char detail[128];
      std::snprintf(detail, sizeof detail, "%llu lines  %.0f lines/s  file %zu/%zu",
                    static_cast<unsigned long long>(all_lines),
                    elapsed > 0 ? all_lines / elapsed : 0, i + 1, work.size());
      bar.Update(total_disk ? static_cast<double>(disk_before + disk_done) / total_disk : 0,
                 detail);
    });
    const BackfillStats& s = backfiller.stats();
    totals.files += s.files;
    totals.lines += s.lines;
    totals.already_counted += s.already_counted;
    totals.bytes += s.bytes;
    totals.flushes += s.flushes;
    totals.endpoints.insert(s.endpoints.begin(), s.endpoints.end());
    totals.customers.insert(s.customers.begin(), s.customers.end());
    for (const auto& t : s.truncated_files) totals.truncated_files.push_back(t);
    parsed += file_lanes.parsed();
    rejected_count += file_lanes.rejected_lines();
    rejected.AddFileParts(file_lanes.rejected);
    extracts_keys = extracts_keys || src->customer_key.active();
    for (int k = 0; k < kCustomerKeyErrorCount; ++k) {
      key_errors[k] += file_lanes.key_errors(static_cast<CustomerKeyError>(k));
    }
    if (file_lanes.parsed()) {
      min_t = std::min(min_t, file_lanes.min_time_us());
      max_t = std::max(max_t, file_lanes.max_time_us());
    }
    if (auto r = LogFileReader::Open(path); r.ok()) disk_before += (*r)->disk_size();
    if (!st.ok()) {
      bar.Done();
      spdlog::error("{}: {} (counts committed so far are exact; run backfill again to resume)",
                    path, st.message());
      exit_code = kExitRuntime;
      break;
    }
  }
  bar.Done();
  // Storage v2: every group written with 2+ blocks becomes one base block,
  // open buckets too (agents still writing them append after the base).
  uint64_t compacted = 0;
  const auto compaction_started = std::chrono::steady_clock::now();
  Status compaction = CompactWrittenGroups(runtime.sink(), 256, &compacted);
  const double compaction_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - compaction_started).count();
  if (!compaction.ok()) {
    spdlog::warn("compacting the groups written failed: {} (the counts are exact; a "
                 "reader or a later writer compacts them)",
                 compaction.message());
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const SinkStats sink_stats = runtime.sink().ExportStats();
  std::printf("backfill %s\n", exit_code == kExitOk ? "done" : "stopped early");
  std::printf("  files:            %llu\n", static_cast<unsigned long long>(totals.files));
  std::printf("  lines:            %llu (%.0f lines/s, %.1f s)\n",
              static_cast<unsigned long long>(totals.lines), secs > 0 ? totals.lines / secs : 0,
              secs);
  std::printf("  parsed:           %llu\n", static_cast<unsigned long long>(parsed));
  std::printf("  rejected:         %llu%s%s\n", static_cast<unsigned long long>(rejected_count),
              rejected_count ? "  " : "", rejected.Summary().c_str());
  if (extracts_keys) {
    uint64_t total = 0;
    std::string reasons;
    for (int k = 0; k < kCustomerKeyErrorCount; ++k) {
      total += key_errors[k];
      if (key_errors[k] == 0) continue;
      reasons += "  " + std::string(CustomerKeyErrorName(static_cast<CustomerKeyError>(k))) + "=" +
                 std::to_string(key_errors[k]);
    }
    std::printf("  no customer key: %llu (parsed, counted as anonymous)%s\n",
                static_cast<unsigned long long>(total), reasons.c_str());
  }
  std::printf("  already counted:  %llu (skipped: in an earlier run's checkpoint)\n",
              static_cast<unsigned long long>(totals.already_counted));
  std::printf("  time range:       %s .. %s\n", TimeOrDash(min_t, parsed > 0).c_str(),
              TimeOrDash(max_t, parsed > 0).c_str());
  std::printf("  endpoints:        %zu\n", totals.endpoints.size());
  std::printf("  customers:        %zu\n", totals.customers.size());
  std::printf("  redis:            %llu commands in %llu flushes",
              static_cast<unsigned long long>(runtime.redis().commands_sent() - commands_before),
              static_cast<unsigned long long>(totals.flushes));
  if (sink_stats.dropped_expired_deltas) {
    std::printf(", %llu deltas older than retention not written",
                static_cast<unsigned long long>(sink_stats.dropped_expired_deltas));
  }
  std::printf("\n");
  if (runtime.sink().schema_version() == 2) {
    std::printf("  storage v2:       %llu blocks, %.1f MB; %llu groups compacted (%llu blocks "
                "merged, %.1f s)%s\n",
                static_cast<unsigned long long>(sink_stats.blocks), sink_stats.block_bytes / 1e6,
                static_cast<unsigned long long>(sink_stats.compactions),
                static_cast<unsigned long long>(sink_stats.blocks_merged), compaction_secs,
                compaction.ok() ? "" : ", compaction failed (see the warning above)");
  }
  if (ClusterClient* cluster = runtime.redis().AsCluster()) {
    const auto& cs = cluster->stats();
    // Groups found applied: only a retry (or a recovered journal) has any.
    std::printf("  redis cluster:    %zu masters, %llu MOVED, %llu ASK, %llu topology reloads, "
                "%llu retries, %llu journals recovered, %llu groups found already applied\n",
                cluster->Masters().size(), static_cast<unsigned long long>(cs.moved),
                static_cast<unsigned long long>(cs.ask),
                static_cast<unsigned long long>(cs.refreshes),
                static_cast<unsigned long long>(cs.retries),
                static_cast<unsigned long long>(sink_stats.journals_recovered),
                static_cast<unsigned long long>(sink_stats.groups_already_applied));
  }
  for (const auto& t : totals.truncated_files) {
    std::printf("  warning: %s ends early (truncated .gz); the readable part was counted\n",
                t.c_str());
  }
  if (!rejected.samples().empty()) {
    std::printf("  rejected samples (first %zu):\n", rejected.samples().size());
    for (const auto& s : rejected.samples()) {
      std::printf("    %s@%llu %s: %s\n", s.source.c_str(),
                  static_cast<unsigned long long>(s.offset), s.reason.c_str(), s.text.c_str());
    }
  }
  return exit_code;
}

}  // namespace

Subcommand AddBackfillCommand(CLI::App& app, const std::string& config_default) {
  auto backfill = std::make_shared<BackfillArgs>();
  backfill->config = config_default;
  auto* bf = app.add_subcommand(
      "backfill",
      "Load old log files (plain or .gz) into the aggregates, each line at its own time. "
      "Lines already counted (by an earlier backfill or the agent) are skipped, so running "
      "it twice adds nothing the second time.");
  bf->add_option("-c,--config", backfill->config, "config file")->capture_default_str();
  bf->add_option("files", backfill->files,
                 "log files to load; default: every file the sources' paths match");
  bf->add_flag("--no-progress", backfill->no_progress, "no progress bar, even on a terminal");
  bf->add_flag("--show-raw-lines", backfill->show_raw_lines, kShowRawLinesHelp);
  bf->add_option("-j,--jobs", backfill->jobs,
                 "threads that parse and aggregate (default 1: on 2 cores, 2 lanes were "
                 "1.24x slower, docs/benchmarks.md); the counts are the same for any number")
      ->check(CLI::Range(1, kMaxJobs));
  return Subcommand{bf, [backfill] { return RunBackfill(*backfill); }};
}

}  // namespace apimeter

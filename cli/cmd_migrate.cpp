// `apimeter migrate`: converts storage schema 1 data into schema 2
// (sink/migrate_v1.h; docs/operations.md "Upgrading to storage v2").
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "agent/runtime.h"
#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "common/time_util.h"
#include "sink/migrate_v1.h"

namespace apimeter {
namespace {

struct MigrateArgs {
  std::string config;
  bool no_progress = false;
};

int RunMigrate(const MigrateArgs& args) {
  SystemClock clock;
  auto rt = LoadRuntimeOrLog(args.config, &clock);
  if (!rt) return kExitConfig;
  if (Status st = rt->CreateRedis(); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitConfig;
  }
  if (Status st = rt->redis().Connect(); !st.ok()) {
    spdlog::error("redis {}: {}", MaskRedisUrl(rt->config().redis.url), st.message());
    return kExitRuntime;
  }
  const bool tty = !args.no_progress && ::isatty(STDERR_FILENO);
  ProgressBar bar(tty);
  int last_tenth = -1;
  auto progress = [&](const MigrateProgress& p) {
    const double frac = p.tags_total ? static_cast<double>(p.tags_done) / p.tags_total : 1;
    const std::string day = FormatDate(p.day * kSecondsPerDay);
    if (tty) {
      bar.Update(frac, std::to_string(p.tags_done) + "/" + std::to_string(p.tags_total) +
                           " tags  day " + day);
    } else if (static_cast<int>(frac * 10) != last_tenth) {
      last_tenth = static_cast<int>(frac * 10);
      std::fprintf(stderr, "migrate: %3.0f%% (%llu of %llu tags), day %s\n", frac * 100,
                   static_cast<unsigned long long>(p.tags_done),
                   static_cast<unsigned long long>(p.tags_total), day.c_str());
    }
  };
  MigrateOptions options;
  options.sink = rt->sink_options();
  auto stats = MigrateV1ToV2(rt->redis(), rt->config().redis.prefix, options, &clock, progress);
  bar.Done();
  if (!stats.ok()) {
    spdlog::error("migrate: {} (nothing is counted twice: run `apimeter migrate` again to "
                  "resume)",
                  stats.status().message());
    return stats.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitRuntime;
  }
  const MigrateStats& s = *stats;
  if (s.tags == 0 && s.names == 0) {
    std::printf("migrate: nothing to convert; %s:schema is 2%s\n",
                rt->config().redis.prefix.c_str(), s.was_v2 ? " (already)" : "");
  } else {
    std::printf("migrate done in %.1f s\n", bar.Elapsed());
    std::printf("  days:           %llu\n", static_cast<unsigned long long>(s.days));
    std::printf("  names numbered: %llu\n", static_cast<unsigned long long>(s.names));
    std::printf("  v1 tags:        %llu (%llu series; %llu past retention, not written)\n",
                static_cast<unsigned long long>(s.tags),
                static_cast<unsigned long long>(s.series),
                static_cast<unsigned long long>(s.expired));
    std::printf("  v2 blocks:      %llu (%.1f MB); %llu parts found appended by an earlier run\n",
                static_cast<unsigned long long>(s.blocks), s.block_bytes / 1e6,
                static_cast<unsigned long long>(s.parts_skipped));
    std::printf("  v1 keys:        %llu deleted\n", static_cast<unsigned long long>(s.keys_deleted));
    std::printf("  compacted:      %llu groups\n", static_cast<unsigned long long>(s.compacted));
    if (s.journals_finished > 0) {
      std::printf("  v1 journals:    %llu unfinished cluster flush(es) applied first\n",
                  static_cast<unsigned long long>(s.journals_finished));
    }
  }
  if (rt->config().redis.schema != 2) {
    std::printf("now set `redis.schema: 2` in %s (and in every apimeter config using this "
                "Redis) before starting the agents and serve again\n",
                rt->config().path.c_str());
  }
  return kExitOk;
}

}  // namespace

Subcommand AddMigrateCommand(CLI::App& app, const std::string& config_default) {
  auto args = std::make_shared<MigrateArgs>();
  args->config = config_default;
  auto* cmd = app.add_subcommand(
      "migrate",
      "Convert data of storage schema 1 into schema 2 (blocks) in place. Stop every agent, "
      "serve and alerts process using this Redis first. Resumable: after an interruption, "
      "run it again; on converted data it does nothing.");
  cmd->add_option("-c,--config", args->config, "config file")->capture_default_str();
  cmd->add_flag("--no-progress", args->no_progress, "no progress bar, even on a terminal");
  return Subcommand{cmd, [args] { return RunMigrate(*args); }};
}

}  // namespace apimeter

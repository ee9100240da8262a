// `apimeter alerts`: the alert evaluator (docs/alerts.md). Without a
// subcommand it runs until SIGTERM (or one pass with --once, at --at);
// `apimeter alerts test` replays the rules over a past range and prints
// when each would have fired and resolved, with no notifications and no
// writes.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <thread>

#include "agent/runtime.h"
#include "alerts/engine.h"
#include "alerts/notifier.h"
#include "alerts/runner.h"
#include "alerts/serve_alerts.h"
#include "alerts/service.h"
#include "alerts/store.h"
#include "cli/commands.h"
#include "common/time_util.h"
#include "query/range_plan.h"
#include "query/series_store.h"

namespace apimeter {
namespace {

constexpr int64_t kMaxReplayMinutes = 31 * 24 * 60;

struct AlertsArgs {
  std::string config;
  bool once = false;
  std::string at;
  std::string from, to = "now";
  bool json = false;
};

// The config, refused when it has no rules (nothing to evaluate).
const Config* RulesOrLog(const Runtime* rt, const std::string& path) {
  if (!rt) return nullptr;
  if (rt->config().alerts.rules.empty()) {
    spdlog::error("{}: alerts.rules is empty: nothing to evaluate; see docs/alerts.md", path);
    return nullptr;
  }
  return &rt->config();
}

// "48h", "90m", "100s": the largest unit that divides `s` exactly.
std::string DurationText(int64_t s) {
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

// `alerts test` replays minute by minute, so it reads the minute tier (rule
// windows under an hour, and the minutes around whole hours). Past that
// tier's retention the buckets are gone; a replay there would print "0
// events" over no data, so it is refused with the date the minute data
// starts. The first minute's window reaches back max(window) - 60 s more.
Status CheckMinuteTierHolds(const Config& c, int64_t first_minute_s, int64_t now_s) {
  int64_t longest_window_s = 60;
  for (const AlertRuleConfig& r : c.alerts.rules) {
    longest_window_s = std::max(longest_window_s, r.window_s);
  }
  // The oldest minute bucket m still kept: (m + 1) * 60 + retention > now (query/range_plan.h).
  const int64_t oldest_s = FloorDiv(now_s - c.retention.minute_s, 60) * 60;
  const int64_t needed_s = first_minute_s + 60 - longest_window_s;
  if (needed_s >= oldest_s) return Status::Ok();
  const int64_t earliest_from = oldest_s + longest_window_s - 60;
  std::string why = "--from " + FormatIso8601(first_minute_s);
  if (longest_window_s > 60) {
    why += " (with the rules' longest window, " + std::to_string(longest_window_s / 60) +
           " minutes, before it)";
  }
  return Status::InvalidArgument(
      why + " is past the minute tier's retention: minute data is kept for retention.minute (" +
      DurationText(c.retention.minute_s) + ") and now starts at " + FormatIso8601(oldest_s) +
      ". alerts test replays minute by minute, so it cannot replay " +
      "older ranges; give --from " + FormatIso8601(earliest_from) +
      " or later (older traffic can still be read per hour: apimeter query timeseries --step 1h)");
}

std::string EventLine(const AlertEvent& e) {
  std::string s = FormatIso8601(e.minute_s + 60) + "  " +
                  (e.kind == "firing" ? "FIRING  " : "RESOLVED") + "  " + e.rule + "  " +
                  (e.scope == "all" ? std::string("all") : e.scope + " " + e.name) + "  " +
                  e.metric + " = " + FormatMetricValue(e.metric, e.value) + " (" + e.condition;
  if (e.limit) s += ", limit " + FormatMetricValue(e.metric, e.limit);
  return s + ")";
}

int RunOnce(const AlertsArgs& args) {
  SystemClock system;
  ManualClock manual;
  const Clock* clock = &system;
  if (!args.at.empty()) {
    Result<int64_t> at = ParseTimePoint(args.at, system.NowSeconds());
    if (!at.ok()) {
      spdlog::error("--at: {}", at.status().message());
      return kExitConfig;
    }
    manual.Set(*at * kMicrosPerSecond);
    clock = &manual;
  }
  auto rt = LoadRuntimeOrLog(args.config, clock);
  const Config* c = RulesOrLog(rt.get(), args.config);
  if (c == nullptr) return kExitConfig;
  const AlertServiceOptions o = AlertServiceOptionsOf(*c);
  std::unique_ptr<RedisCommands> redis = o.redis();
  if (Status st = redis->Connect(); !st.ok()) {
    spdlog::error("{}: {}", RedisNameOf(*c), st.message());
    return kExitRuntime;
  }
  QueryEngine query(MakeSeriesStore(o.schema, redis.get(), o.prefix, nullptr), o.retention, clock);
  QueryEngineSource source(&query);
  AlertEngine engine(c->alerts, &source);
  AlertStore store(redis.get(), c->redis.prefix, NewLeaseOwner(), c->alerts.history);
  Notifier notifier(c->alerts, HttpPostJson, [](int64_t ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // backoff between attempts
    return true;
  });
  AlertRunner runner(c->alerts, &engine, &store, &notifier, clock);
  Result<TickResult> r = runner.Tick();
  if (!r.ok()) {
    spdlog::error("{}", r.status().message());
    return kExitRuntime;
  }
  if (!r->leader) {
    std::cout << "another evaluator holds the lease: nothing evaluated\n";
    return kExitOk;
  }
  Result<DrainResult> sent = DrainOutbox(&store, notifier, WebhookNames(c->alerts));
  if (Status st = store.ReleaseLease(); !st.ok()) spdlog::warn("{}", st.message());
  std::cout << "evaluated " << r->minutes << " minutes"
            << (r->last_minute >= 0 ? " up to " + FormatIso8601(r->last_minute + 60) : "") << "; "
            << r->events << " alert events";
  if (sent.ok()) {
    std::cout << "; " << sent->delivered << " notifications delivered";
    if (sent->dead > 0) std::cout << ", " << sent->dead << " given up (dead letters)";
  }
  std::cout << "\n";
  if (!sent.ok()) {
    spdlog::error("delivering notifications: {}", sent.status().message());
    return kExitRuntime;
  }
  return kExitOk;
}

int RunDaemon(const AlertsArgs& args) {
  SystemClock clock;
  auto rt = LoadRuntimeOrLog(args.config, &clock);
  const Config* c = RulesOrLog(rt.get(), args.config);
  if (c == nullptr) return kExitConfig;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the threads start: they inherit it
  AlertService service(AlertServiceOptionsOf(*c), &clock);
  service.Start();
  spdlog::info("alerts: evaluating {} rules every minute (grace {} s)", c->alerts.rules.size(),
               c->alerts.grace_s);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping", sig);
  service.Stop();
  return kExitOk;
}

int RunReplay(const AlertsArgs& args) {
  SystemClock clock;
  const int64_t now = clock.NowSeconds();
  Result<int64_t> from = ParseTimePoint(args.from, now);
  Result<int64_t> to = ParseTimePoint(args.to, now);
  if (!from.ok() || !to.ok()) {
    spdlog::error("--{}: {}", from.ok() ? "to" : "from",
                  (from.ok() ? to.status() : from.status()).message());
    return kExitConfig;
  }
  auto rt = LoadRuntimeOrLog(args.config, &clock);
  const Config* c = RulesOrLog(rt.get(), args.config);
  if (c == nullptr) return kExitConfig;
  const int64_t first = *from / 60 * 60;
  const int64_t last = std::min((*to - 1) / 60 * 60, LatestClosedMinute(now, c->alerts.grace_s));
  if (last < first || (last - first) / 60 + 1 > kMaxReplayMinutes) {
    spdlog::error("--from/--to: give a past range of 1 minute to 31 days (closed minutes only)");
    return kExitConfig;
  }
  if (Status st = CheckMinuteTierHolds(*c, first, now); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitConfig;
  }
  const AlertServiceOptions o = AlertServiceOptionsOf(*c);
  std::unique_ptr<RedisCommands> redis = o.redis();
  QueryEngine query(MakeSeriesStore(o.schema, redis.get(), o.prefix, nullptr), o.retention,
                    &clock);
  QueryEngineSource source(&query);
  AlertEngine engine(c->alerts, &source);
  AlertState state;
  nlohmann::json events = nlohmann::json::array();
  for (int64_t m = first; m <= last; m += 60) {
    Result<std::vector<AlertEvent>> ev = engine.EvaluateMinute(m, &state);
    if (!ev.ok()) {
      spdlog::error("evaluating {}: {}", FormatIso8601(m), ev.status().message());
      return kExitRuntime;
    }
    for (const AlertEvent& e : *ev) {
      if (!args.json) std::cout << EventLine(e) << "\n";
      events.push_back(AlertEventToJson(e));
    }
  }
  nlohmann::json still = nlohmann::json::array();
  for (const auto& [key, inst] : state.instances) {
    if (inst.state.phase != AlertPhase::kFiring) continue;
    still.push_back({{"rule", inst.rule},
                     {"scope", inst.scope},
                     {"name", inst.name},
                     {"since", inst.state.firing_since}});
    if (!args.json) {
      std::cout << "still firing at the end: " << inst.rule << "  " << inst.scope << " "
                << inst.name << " (since " << FormatIso8601(inst.state.firing_since + 60) << ")\n";
    }
  }
  if (args.json) {
    std::cout << nlohmann::json{{"from", FormatIso8601(first)},
                                {"to", FormatIso8601(last + 60)},
                                {"window_requests", engine.window_requests()},
                                {"events", events},
                                {"firing_at_end", still}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << (last - first) / 60 + 1 << " minutes replayed from " << FormatIso8601(first)
              << " to " << FormatIso8601(last + 60) << ": " << events.size()
              << " events (no notifications sent)\n";
  }
  if (engine.window_requests() == 0) {
    // Never a bare "0 events" over a range with no data: that is no result.
    spdlog::warn(
        "the rules' windows held no requests at all between {} and {}: there was no "
        "data to evaluate (is this the Redis and redis.prefix the agent writes to?)",
        FormatIso8601(first), FormatIso8601(last + 60));
  }
  return kExitOk;
}

}  // namespace

Subcommand AddAlertsCommand(CLI::App& app, const std::string& config_default) {
  auto args = std::make_shared<AlertsArgs>();
  args->config = config_default;
  auto* al = app.add_subcommand(
      "alerts",
      "Evaluate the alert rules (alerts: in the config) every minute on closed minutes and "
      "send webhook notifications; one evaluator at a time holds a lease in Redis. Runs until "
      "SIGTERM, or one pass with --once. docs/alerts.md");
  al->add_option("-c,--config", args->config, "config file")->capture_default_str();
  al->add_flag("--once", args->once,
               "one pass: evaluate the closed minutes not yet evaluated, deliver, exit");
  al->add_option("--at", args->at, "with --once: evaluate as if now were this time");
  auto* test = al->add_subcommand(
      "test",
      "Replay the rules over a past range and print when each would have fired and resolved "
      "(nothing is sent or stored).");
  test->add_option("-c,--config", args->config, "config file")->capture_default_str();
  test->add_option("--from", args->from, "start: ISO-8601, epoch seconds, or 1h, 24h, 7d ago")
      ->required();
  test->add_option("--to", args->to, "end (exclusive), same forms")->capture_default_str();
  test->add_flag("--json", args->json, "print the events as JSON");
  return Subcommand{al, [args, test] {
                      if (*test) return RunReplay(*args);
                      if (!args->at.empty() && !args->once) {
                        spdlog::error("--at needs --once");
                        return static_cast<int>(kExitUsage);
                      }
                      return args->once ? RunOnce(*args) : RunDaemon(*args);
                    }};
}

}  // namespace apimeter

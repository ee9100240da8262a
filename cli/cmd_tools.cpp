// `apimeter check-config`, `test-format` and `customer-id`: the operator's
// tools for getting a config right before running the agent.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/line_pipeline.h"
#include "agent/line_splitter.h"
#include "agent/log_file_reader.h"
#include "agent/runtime.h"
#include "cli/commands.h"
#include "common/time_util.h"

namespace apimeter {

void SetUpLogging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("apimeter");
  spdlog::set_default_logger(logger);
  // journald stamps each line itself; elsewhere we add the time.
  if (std::getenv("JOURNAL_STREAM") || std::getenv("INVOCATION_ID")) {
    spdlog::set_pattern("%l: %v");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
}

namespace {

struct TestFormatArgs {
  std::string config;
  std::string file;
  int64_t lines = 20;
  int64_t source = -1;  // index into sources; -1 = the source matching the file
  bool show_raw_lines = false;  // values shown as logged (API keys included)
};

struct CustomerIdArgs {
  std::string config;
  std::vector<std::string> keys;  // empty: read keys from standard input, one per line
};

int RunCheckConfig(const std::string& path) {
  SystemClock clock;
  auto rt = LoadRuntimeOrLog(path, &clock);
  if (!rt) return kExitConfig;
  std::cout << "# " << path << ": OK\n" << EffectiveConfigYaml(rt->config());
  return kExitOk;
}

int RunTestFormat(const TestFormatArgs& args) {
  SystemClock clock;
  auto rt = LoadRuntimeOrLog(args.config, &clock);
  if (!rt) return kExitConfig;
  if (args.show_raw_lines) WarnShowRawLines();
  const Config* config = &rt->config();
  SourceRuntime* src = nullptr;
  if (args.source >= 0) {
    if (args.source >= static_cast<int64_t>(rt->sources().size())) {
      spdlog::error("--source {}: the config has {} sources (0-based)", args.source,
                    rt->sources().size());
      return kExitConfig;
    }
    src = &rt->sources()[static_cast<size_t>(args.source)];
  } else {
    auto found = rt->SourceForFile(args.file);
    if (!found.ok()) {
      spdlog::error("{}", found.status().message());
      return kExitConfig;
    }
    src = *found;
  }
  auto reader = LogFileReader::Open(args.file);
  if (!reader.ok()) {
    spdlog::error("{}", reader.status().message());
    return kExitRuntime;
  }
  std::cout << "format: " << src->config.log_format << "\n";
  int64_t shown = 0, good = 0, bad = 0;
  const int64_t max_future_us = config->limits.max_future_s * kMicrosPerSecond;
  LineSplitter splitter(static_cast<size_t>(config->limits.max_line_bytes));
  auto on_line = [&](std::string_view line, uint64_t end, bool too_long) {
    if (shown >= args.lines) return;
    ++shown;
    std::cout << "\nline " << shown << " (ends at byte " << end << ")\n";
    if (too_long) {
      std::cout << "  REJECTED too_long: longer than limits.max_line_bytes ("
                << config->limits.max_line_bytes << ")\n";
      ++bad;
      return;
    }
    LogRecord rec;
    ParseError err{};
    const bool parsed = src->parser.Parse(line, &rec, &err);
    // As the pipeline does: a line dated too far ahead is rejected.
    const bool future = parsed && rec.time_us > clock.NowMicros() + max_future_us;
    const bool ok = parsed && !future;
    ok ? ++good : ++bad;
    // API keys are never shown raw unless asked: each becomes its customer id.
    const RedactOptions redact{args.show_raw_lines, LinePipeline::CustomerMarker(&rt->customers())};
    std::cout << src->parser.Explain(line, redact);
    if (future) {
      std::cout << "rejected: future_time: dated more than limits.max_future ("
                << config->limits.max_future_s << " s) after now\n";
    }
    if (ok) {
      std::string endpoint;
      rt->normalizer().Normalize(rec.method, rec.path, &endpoint);
      // The key the agent would count: customer_match / customer_jwt_claim applied.
      std::string_view key = rec.customer_key;
      std::string scratch, why;
      CustomerKeyError key_error;
      if (!key.empty() && !src->customer_key.Extract(key, &scratch, &key, &key_error)) {
        key = {};
        why = " (no key: " + std::string(CustomerKeyErrorName(key_error)) + ")";
      }
      std::cout << "  => endpoint " << endpoint << ", customer " << rt->customers().Resolve(key)
                << why << "\n";
    }
  };
  char buf[64 * 1024];
  while (shown < args.lines) {
    auto n = (*reader)->Read(buf, sizeof buf);
    if (!n.ok()) {
      spdlog::error("{}", n.status().message());
      return kExitRuntime;
    }
    if (*n == 0) break;
    splitter.Feed(std::string_view(buf, *n), on_line);
  }
  if (shown < args.lines) splitter.Finish(on_line);
  std::cout << "\n" << good << " of " << shown << " lines parsed, " << bad << " rejected\n";
  return bad == 0 ? kExitOk : kExitData;
}

int RunCustomerId(const CustomerIdArgs& args) {
  auto config = LoadConfigFile(args.config);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return kExitConfig;
  }
  auto print = [&](const std::string& key) {
    if (key.empty()) return;
    // The key itself is not echoed: only its id.
    std::cout << CustomerResolver::IdFor(config->customer_id_secret, key) << "\n";
  };
  if (!args.keys.empty()) {
    for (const auto& k : args.keys) print(k);
  } else {
    std::string line;
    while (std::getline(std::cin, line)) print(line);
  }
  return kExitOk;
}

}  // namespace

Subcommand AddCheckConfigCommand(CLI::App& app, const std::string& config_default) {
  auto check_config = std::make_shared<std::string>(config_default);
  auto* cc = app.add_subcommand(
      "check-config", "Validate a config and print the effective config, secrets masked.");
  cc->add_option("-c,--config", *check_config, "config file")->capture_default_str();
  return Subcommand{cc, [check_config] { return RunCheckConfig(*check_config); }};
}

Subcommand AddTestFormatCommand(CLI::App& app, const std::string& config_default) {
  auto tf = std::make_shared<TestFormatArgs>();
  tf->config = config_default;
  auto* tfc = app.add_subcommand(
      "test-format",
      "Parse the first lines of a log file with the configured log_format and show each "
      "field, or exactly where and why a line fails.");
  tfc->add_option("-c,--config", tf->config, "config file")->capture_default_str();
  tfc->add_option("file", tf->file, "log file (plain or .gz)")->required();
  tfc->add_option("--lines", tf->lines, "how many lines to show")->capture_default_str();
  tfc->add_option("--source", tf->source, "which source's format (0-based; default: by path)");
  tfc->add_flag("--show-raw-lines", tf->show_raw_lines, kShowRawLinesHelp);
  return Subcommand{tfc, [tf] { return RunTestFormat(*tf); }};
}

Subcommand AddCustomerIdCommand(CLI::App& app, const std::string& config_default) {
  auto cid = std::make_shared<CustomerIdArgs>();
  cid->config = config_default;
  auto* ci = app.add_subcommand(
      "customer-id",
      "Print the apimeter customer id (k_...) of API keys read from standard input, one per "
      "line, for the customers file. Keys are never stored.");
  ci->add_option("-c,--config", cid->config, "config file (for customer_id_secret)")
      ->capture_default_str();
  ci->add_option("keys", cid->keys, "keys (prefer standard input: arguments land in shell history)");
  return Subcommand{ci, [cid] { return RunCustomerId(*cid); }};
}

}  // namespace apimeter

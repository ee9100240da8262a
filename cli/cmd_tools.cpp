// `apimeter check-config`, `test-format` and `customer-id`: the operator's
// tools for getting a config right before running the agent.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

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

}  // namespace apimeter

// The subcommands of the apimeter binary. Each returns a process exit code
// (see ExitCode) and prints its own errors; none throws.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/exit_code.h"

namespace CLI {
class App;
}

namespace apimeter {

// A subcommand defined in its own file (cmd_<name>.cpp): its Add<Name>Command
// registers the subcommand and its options on the app (config_default is the
// default --config) and returns the runner main() calls when it was chosen.
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// `apimeter alerts` (cli/cmd_alerts.cpp).
Subcommand AddAlertsCommand(CLI::App& app, const std::string& config_default);
struct BackfillArgs {
  std::string config;
  std::vector<std::string> files;
  bool no_progress = false;
  bool show_raw_lines = false;  // rejected samples unmasked (API keys shown)
};
int RunBackfill(const BackfillArgs& args);

struct QueryArgs {
  std::string config;
  std::string kind;  // overview | endpoints | customers | timeseries | slow
  std::string from = "24h";
  std::string to = "now";
  int64_t limit = 20;
  int64_t step_s = 0;
  std::string step;
  std::string host, endpoint, customer;
  bool json = false;
};
int RunQuery(const QueryArgs& args);

int RunCheckConfig(const std::string& config);

struct TestFormatArgs {
  std::string config;
  std::string file;
  int64_t lines = 20;
  int64_t source = -1;  // index into sources; -1 = the source matching the file
  bool show_raw_lines = false;  // values shown as logged (API keys included)
};
int RunTestFormat(const TestFormatArgs& args);

struct CustomerIdArgs {
  std::string config;
  std::vector<std::string> keys;  // empty: read keys from standard input, one per line
};
int RunCustomerId(const CustomerIdArgs& args);

struct ServeArgs {
  std::string config;
  std::string listen;  // overrides server.listen when set
};
// `apimeter serve`: the HTTP API until SIGTERM/SIGINT.
int RunServe(const ServeArgs& args);
// `apimeter hash-token`: one token on stdin → "sha256:<hex>" on stdout.
int RunHashToken();

// `apimeter report` (cmd_report.cpp): customer usage reports, docs/reports.md.
Subcommand AddReportCommand(CLI::App& app, const std::string& config_default);

// Logging set-up shared by all commands: to stderr; without timestamps when
// running under systemd (journald adds its own).
void SetUpLogging(bool verbose);

// What --show-raw-lines does (the option's help text); every command that has
// the option logs WarnShowRawLines() (agent/line_pipeline.h) when it is given.
inline constexpr const char* kShowRawLinesHelp =
    "show log lines as logged, API keys included (default: keys and secret-looking values "
    "are masked)";

}  // namespace apimeter

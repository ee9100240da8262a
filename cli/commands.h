// The subcommands of the apimeter binary. Each returns a process exit code
// (see ExitCode) and prints its own errors; none throws.
#pragma once

#include <functional>
#include <string>

#include "common/exit_code.h"

namespace CLI {
class App;
}

namespace apimeter {

// Every subcommand is defined in its own file, cmd_<name>.cpp: its
// Add<Name>Command registers the subcommand and its options on the app
// (config_default is the default --config) and returns the runner main()
// calls when it was chosen. main() lists them all, in --help order.
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
using AddCommandFn = Subcommand (*)(CLI::App& app, const std::string& config_default);

Subcommand AddAgentCommand(CLI::App& app, const std::string& config_default);     // cmd_agent.cpp
Subcommand AddBackfillCommand(CLI::App& app, const std::string& config_default);  // cmd_backfill.cpp
Subcommand AddQueryCommand(CLI::App& app, const std::string& config_default);     // cmd_query.cpp
// check-config, test-format and customer-id: cmd_tools.cpp.
Subcommand AddCheckConfigCommand(CLI::App& app, const std::string& config_default);
Subcommand AddTestFormatCommand(CLI::App& app, const std::string& config_default);
Subcommand AddCustomerIdCommand(CLI::App& app, const std::string& config_default);
// serve and hash-token: cmd_serve.cpp.
Subcommand AddServeCommand(CLI::App& app, const std::string& config_default);
Subcommand AddHashTokenCommand(CLI::App& app, const std::string& config_default);
Subcommand AddAlertsCommand(CLI::App& app, const std::string& config_default);  // cmd_alerts.cpp
Subcommand AddReportCommand(CLI::App& app, const std::string& config_default);  // cmd_report.cpp
Subcommand AddMigrateCommand(CLI::App& app, const std::string& config_default);  // cmd_migrate.cpp

// Logging set-up shared by all commands: to stderr; without timestamps when
// running under systemd (journald adds its own).
void SetUpLogging(bool verbose);

// What --show-raw-lines does (the option's help text); every command that has
// the option logs WarnShowRawLines() (agent/line_pipeline.h) when it is given.
inline constexpr const char* kShowRawLinesHelp =
    "show log lines as logged, API keys included (default: keys and secret-looking values "
    "are masked)";

}  // namespace apimeter

// apimeter: entry point. Parses the command line and hands the chosen
// subcommand to its runner (cli/commands.h; each subcommand's options and
// wiring are in its cmd_<name>.cpp). The only place CLI11's exceptions are caught.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "cli/version.h"

int main(int argc, char** argv) {
  using namespace apimeter;
  // A write to a socket whose peer is gone (a Redis node killed mid-pipeline:
  // hiredis writes with plain write()) must be an EPIPE error that the
  // caller retries, not a SIGPIPE that silently ends the process.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"apimeter: API usage analytics from nginx access logs.\n"
               "Docs: docs/cli.md, docs/config.md, docs/api.md."};
  app.set_version_flag("--version", std::string("apimeter ") + APIMETER_VERSION + " (commit " +
                                        APIMETER_GIT_COMMIT + ")");
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok; 1 runtime failure (Redis unreachable, unreadable file); 2 invalid "
      "config or option value (the message says file:line); 3 ran but found bad input "
      "(test-format: rejected lines; report: unknown customer); 64 bad command line.\n"
      "Docs: man apimeter, /usr/share/doc/apimeter (installed) or docs/ (source): cli.md, "
      "config.md, operations.md.");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "debug logging");
  std::string config_default = "/etc/apimeter/apimeter.yaml";

  // Every subcommand, in the order --help lists them; each registers itself
  // in its own cmd_<name>.cpp (commands.h).
  std::vector<Subcommand> subcommands;
  for (AddCommandFn add : {AddAgentCommand, AddBackfillCommand, AddQueryCommand,
                           AddCheckConfigCommand, AddTestFormatCommand, AddCustomerIdCommand,
                           AddServeCommand, AddHashTokenCommand, AddAlertsCommand,
                           AddReportCommand, AddMigrateCommand}) {
    subcommands.push_back(add(app, config_default));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  SetUpLogging(verbose);
  for (const Subcommand& s : subcommands) {
    if (*s.app) return s.run();
  }
  return kExitUsage;
}

// The process exit codes of every apimeter subcommand, documented in
// docs/cli.md. In common/ because the live agent (agent/) returns one too,
// not only the CLI's runners (cli/).
#pragma once

namespace apimeter {

enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,  // a runtime failure: Redis unreachable, unreadable file, ...
  kExitConfig = 2,   // the config (or a flag value) is invalid: fix it and run again
  kExitData = 3,     // the command ran but found bad input (e.g. test-format: lines rejected)
  kExitUsage = 64,   // the command line itself is wrong
};

}  // namespace apimeter

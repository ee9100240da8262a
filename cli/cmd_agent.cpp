// `apimeter agent`: the live agent beside nginx. The options land in
// LiveAgentArgs; the agent itself is ingest's (agent/live_agent.h).
#include <CLI/CLI.hpp>
#include <memory>

#include "agent/live_agent.h"
#include "cli/commands.h"
#include "cli/version.h"

namespace apimeter {

Subcommand AddAgentCommand(CLI::App& app, const std::string& config_default) {
  auto agent_args = std::make_shared<LiveAgentArgs>();
  agent_args->config = config_default;
  agent_args->build_version = APIMETER_VERSION;
  agent_args->build_revision = APIMETER_GIT_COMMIT;
  auto* ag = app.add_subcommand(
      "agent",
      "Tail the configured nginx access logs (following rotation), count every line once at "
      "its own minute, and flush to Redis every few seconds. Runs until SIGTERM; SIGHUP "
      "reloads the config.");
  ag->add_option("-c,--config", agent_args->config, "config file")->capture_default_str();
  ag->add_flag("--from-start", agent_args->from_start,
               "on first start, read existing files from their beginning instead of their end");
  ag->add_option("--metrics-listen", agent_args->metrics_listen,
                 "host:port for /metrics (overrides agent.metrics_listen; port 0 = any)");
  ag->add_flag("--show-raw-lines", agent_args->show_raw_lines, kShowRawLinesHelp);
  return Subcommand{ag, [agent_args] { return RunAgent(*agent_args); }};
}

}  // namespace apimeter

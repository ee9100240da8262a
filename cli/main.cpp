// apimeter: entry point. Parses the command line and hands each subcommand to
// its runner (cli/commands.h). The only place CLI11's exceptions are caught.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <vector>

#include "agent/live_agent.h"
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

  LiveAgentArgs agent_args;
  agent_args.config = config_default;
  auto* ag = app.add_subcommand(
      "agent",
      "Tail the configured nginx access logs (following rotation), count every line once at "
      "its own minute, and flush to Redis every few seconds. Runs until SIGTERM; SIGHUP "
      "reloads the config.");
  ag->add_option("-c,--config", agent_args.config, "config file")->capture_default_str();
  ag->add_flag("--from-start", agent_args.from_start,
               "on first start, read existing files from their beginning instead of their end");
  ag->add_option("--metrics-listen", agent_args.metrics_listen,
                 "host:port for /metrics (overrides agent.metrics_listen; port 0 = any)");
  ag->add_flag("--show-raw-lines", agent_args.show_raw_lines, kShowRawLinesHelp);

  BackfillArgs backfill;
  backfill.config = config_default;
  auto* bf = app.add_subcommand(
      "backfill",
      "Load old log files (plain or .gz) into the aggregates, each line at its own time. "
      "Lines already counted (by an earlier backfill or the agent) are skipped, so running "
      "it twice adds nothing the second time.");
  bf->add_option("-c,--config", backfill.config, "config file")->capture_default_str();
  bf->add_option("files", backfill.files,
                 "log files to load; default: every file the sources' paths match");
  bf->add_flag("--no-progress", backfill.no_progress, "no progress bar, even on a terminal");
  bf->add_flag("--show-raw-lines", backfill.show_raw_lines, kShowRawLinesHelp);

  QueryArgs query;
  query.config = config_default;
  auto* q = app.add_subcommand("query", "Ask the aggregates a question; tables, or JSON with --json.");
  q->add_option("kind", query.kind, "overview | endpoints | customers | timeseries | slow")
      ->required()
      ->check(CLI::IsMember({"overview", "endpoints", "customers", "timeseries", "slow"}));
  q->add_option("-c,--config", query.config, "config file")->capture_default_str();
  q->add_option("--from", query.from,
                "start (inclusive): now, 1h, 24h, 7d, 30d, ISO-8601 or epoch seconds")
      ->capture_default_str();
  q->add_option("--to", query.to, "end (exclusive), same forms as --from")->capture_default_str();
  q->add_option("--limit", query.limit, "rows for endpoints, customers and slow (1..1000)")
      ->capture_default_str();
  q->add_option("--step", query.step, "timeseries step, e.g. 1m, 5m, 1h, 1d (default: from range)");
  q->add_option("--host", query.host, "only this host (overview, timeseries)");
  q->add_option("--endpoint", query.endpoint, "only this endpoint, e.g. 'GET /v1/orders/:id'");
  q->add_option("--customer", query.customer, "only this customer (name or k_ id)");
  q->add_flag("--json", query.json, "print the JSON of the API contract (docs/api.md)");

  std::string check_config = config_default;
  auto* cc = app.add_subcommand(
      "check-config", "Validate a config and print the effective config, secrets masked.");
  cc->add_option("-c,--config", check_config, "config file")->capture_default_str();

  TestFormatArgs tf;
  tf.config = config_default;
  auto* tfc = app.add_subcommand(
      "test-format",
      "Parse the first lines of a log file with the configured log_format and show each "
      "field, or exactly where and why a line fails.");
  tfc->add_option("-c,--config", tf.config, "config file")->capture_default_str();
  tfc->add_option("file", tf.file, "log file (plain or .gz)")->required();
  tfc->add_option("--lines", tf.lines, "how many lines to show")->capture_default_str();
  tfc->add_option("--source", tf.source, "which source's format (0-based; default: by path)");
  tfc->add_flag("--show-raw-lines", tf.show_raw_lines, kShowRawLinesHelp);

  CustomerIdArgs cid;
  cid.config = config_default;
  auto* ci = app.add_subcommand(
      "customer-id",
      "Print the apimeter customer id (k_...) of API keys read from standard input, one per "
      "line, for the customers file. Keys are never stored.");
  ci->add_option("-c,--config", cid.config, "config file (for customer_id_secret)")
      ->capture_default_str();
  ci->add_option("keys", cid.keys, "keys (prefer standard input: arguments land in shell history)");

  ServeArgs serve;
  serve.config = config_default;
  auto* sv = app.add_subcommand(
      "serve",
      "Serve the HTTP API (docs/api.md) and the dashboard over the aggregates in Redis. "
      "Needs server.tokens in the config. Runs until SIGTERM.");
  sv->add_option("-c,--config", serve.config, "config file")->capture_default_str();
  sv->add_option("--listen", serve.listen, "host:port (overrides server.listen; port 0 = any)");

  auto* ht = app.add_subcommand(
      "hash-token",
      "Read an API token on standard input and print its sha256:<hex> hash for server.tokens.");

  // Subcommands defined in their own files: one line each.
  std::vector<Subcommand> more;
  more.push_back(AddAlertsCommand(app, config_default));
  more.push_back(AddReportCommand(app, config_default));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  SetUpLogging(verbose);
  if (*ag) return RunAgent(agent_args);
  if (*bf) return RunBackfill(backfill);
  if (*q) return RunQuery(query);
  if (*cc) return RunCheckConfig(check_config);
  if (*tfc) return RunTestFormat(tf);
  if (*ci) return RunCustomerId(cid);
  if (*sv) return RunServe(serve);
  if (*ht) return RunHashToken();
  for (const Subcommand& s : more) {
    if (*s.app) return s.run();
  }
  return kExitUsage;
}

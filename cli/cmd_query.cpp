// `apimeter query`: the read side from the command line, as tables or JSON.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>

#include "agent/runtime.h"
#include "cli/commands.h"
#include "common/time_util.h"
#include "server/answer_json.h"
#include "server/usage_json.h"

namespace apimeter {
namespace {

struct QueryArgs {
  std::string config;
  std::string kind;  // overview | endpoints | customers | timeseries | slow | clients
  std::string from = "24h";
  std::string to = "now";
  int64_t limit = 20;
  std::string step;
  std::string host, endpoint, customer;
  bool json = false;
};

int RunQuery(const QueryArgs& args) {
  SystemClock clock;
  const int64_t now = clock.NowSeconds();
  QueryParams params;
  auto from = ParseTimePoint(args.from, now);
  auto to = ParseTimePoint(args.to, now);
  if (!from.ok() || !to.ok()) {
    spdlog::error("--{}: {}", from.ok() ? "to" : "from",
                  (from.ok() ? to.status() : from.status()).message());
    return kExitConfig;
  }
  params.from_s = *from;
  params.to_s = *to;
  params.limit = args.limit;
  if (!args.step.empty()) {
    auto step = ParseDuration(args.step);
    if (!step.ok()) {
      spdlog::error("--step: {}", step.status().message());
      return kExitConfig;
    }
    params.step_s = *step;
  }
  params.filter = QueryFilter{args.host, args.endpoint, args.customer};

  auto rt = LoadRuntimeOrLog(args.config, &clock);
  if (!rt) return kExitConfig;
  if (Status st = rt->ConnectRedis(); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitRuntime;
  }
  QueryEngine& q = rt->query();
  Result<nlohmann::json> result = Status::InvalidArgument("unknown query kind '" + args.kind + "'");
  if (args.kind == "overview") result = ToJson(q.Overview(params));
  if (args.kind == "endpoints") result = ToJson(q.Endpoints(params));
  const bool endpoint_customers = args.kind == "customers" && !args.endpoint.empty();
  if (args.kind == "customers" && !endpoint_customers) result = ToJson(q.Customers(params));
  if (endpoint_customers) result = ToJson(q.EndpointCustomers(params), EndpointCustomersJson);
  if (args.kind == "timeseries") result = ToJson(q.Timeseries(params));
  if (args.kind == "slow") result = ToJson(q.Slow(params));
  if (args.kind == "clients") result = ToJson(q.Clients(params));
  if (!result.ok()) {
    spdlog::error("{}", result.status().message());
    return result.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitRuntime;
  }
  if (args.json) {
    std::cout << result->dump(2) << "\n";
  } else {
    std::cout << RenderTable(endpoint_customers ? "endpoint_customers" : args.kind, *result);
  }
  return kExitOk;
}

}  // namespace

Subcommand AddQueryCommand(CLI::App& app, const std::string& config_default) {
  auto query = std::make_shared<QueryArgs>();
  query->config = config_default;
  auto* q = app.add_subcommand("query", "Ask the aggregates a question; tables, or JSON with --json.");
  q->add_option("kind", query->kind,
                "overview | endpoints | customers | timeseries | slow | clients")
      ->required()
      ->check(
          CLI::IsMember({"overview", "endpoints", "customers", "timeseries", "slow", "clients"}));
  q->add_option("-c,--config", query->config, "config file")->capture_default_str();
  q->add_option("--from", query->from,
                "start (inclusive): now, 1h, 24h, 7d, 30d, ISO-8601 or epoch seconds")
      ->capture_default_str();
  q->add_option("--to", query->to, "end (exclusive), same forms as --from")->capture_default_str();
  q->add_option("--limit", query->limit, "rows for endpoints, customers, clients and slow (1..1000)")
      ->capture_default_str();
  q->add_option("--step", query->step, "timeseries step, e.g. 1m, 5m, 1h, 1d (default: from range)");
  q->add_option("--host", query->host, "only this host (overview, timeseries)");
  q->add_option("--endpoint", query->endpoint, "only this endpoint, e.g. 'GET /v1/orders/:id'; with customers: the customers "
                "of that endpoint, with first and last seen");
  q->add_option("--customer", query->customer, "only this customer (name or k_ id)");
  q->add_flag("--json", query->json, "print the JSON of the API contract (docs/api.md)");
  return Subcommand{q, [query] { return RunQuery(*query); }};
}

}  // namespace apimeter

// `apimeter query`: the read side from the command line, as tables or JSON.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "agent/runtime.h"
#include "cli/commands.h"
#include "common/time_util.h"

namespace apimeter {

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
  if (args.kind == "overview") result = q.Overview(params);
  if (args.kind == "endpoints") result = q.Endpoints(params);
  if (args.kind == "customers") result = q.Customers(params);
  if (args.kind == "timeseries") result = q.Timeseries(params);
  if (args.kind == "slow") result = q.Slow(params);
  if (!result.ok()) {
    spdlog::error("{}", result.status().message());
    return result.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitRuntime;
  }
  if (args.json) {
    std::cout << result->dump(2) << "\n";
  } else {
    std::cout << RenderTable(args.kind, *result);
  }
  return kExitOk;
}

}  // namespace apimeter

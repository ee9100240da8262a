// Runtime: builds every part apimeter needs from a validated Config. This is
// the one place that knows how config fields map onto module options.
//
// Promise: Create() compiles each source's log format and the route rules
// once, or returns the first error; it does not touch the network. Redis is
// connected lazily by ConnectRedis(). The objects it hands out live as long
// as the Runtime. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/line_pipeline.h"
#include "aggregator/aggregator.h"
#include "aggregator/customer_resolver.h"
#include "common/clock.h"
#include "config/config.h"
#include "parsers/customer_key.h"
#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"
#include "query/query_engine.h"
#include "sink/cluster_client.h"
#include "sink/redis_client.h"
#include "sink/redis_sink.h"

namespace apimeter {

struct SourceRuntime {
  SourceConfig config;
  LineParser parser;
  CustomerKeyExtractor customer_key;  // customer_match / customer_jwt_claim of this source
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> Create(const Config& config, const Clock* clock);

  const Config& config() const { return config_; }
  const Clock* clock() const { return clock_; }
  std::vector<SourceRuntime>& sources() { return sources_; }
  const EndpointNormalizer& normalizer() const { return *normalizer_; }
  CustomerResolver& customers() { return *customers_; }
  // Another resolver like customers(), for a thread of its own (a resolver
  // caches, so it is not thread-safe).
  std::unique_ptr<CustomerResolver> NewCustomerResolver() const;

  // The host name a source's lines are counted under (sources may differ).
  const std::string& host() const { return host_; }
  AggregatorOptions aggregator_options() const;
  // limits.max_future; show_raw_lines as given (a command-line choice, not config).
  LinePipelineOptions pipeline_options(bool show_raw_lines) const;
  // Finds the source whose path globs match `path`; with a single source, that
  // source. InvalidArgument naming the file otherwise.
  Result<SourceRuntime*> SourceForFile(const std::string& path);

  // Builds the Redis client, sink and query engine without connecting (the
  // client connects on first use and reconnects after failures).
  Status CreateRedis();
  // CreateRedis, then connects now so a wrong URL or password fails early.
  // With redis.cluster set, the client is a ClusterClient (sink/cluster_client.h).
  Status ConnectRedis();
  RedisCommands& redis() { return *redis_; }
  RedisSink& sink() { return *sink_; }
  QueryEngine& query() { return *query_; }

  // Another Redis client (not connected yet) and a QueryEngine on it, for a
  // thread of its own (serve's workers); the engine points at the client.
  struct QueryConnection {
    std::unique_ptr<RedisCommands> redis;
    std::unique_ptr<QueryEngine> query;
  };
  Result<QueryConnection> NewQueryConnection() const;

 private:
  Runtime() = default;
  Result<std::unique_ptr<RedisCommands>> NewRedisClient() const;
  RetentionSeconds Retention() const;

  Config config_;
  const Clock* clock_ = nullptr;
  std::string host_;
  std::vector<SourceRuntime> sources_;
  std::unique_ptr<EndpointNormalizer> normalizer_;
  std::unique_ptr<CustomerResolver> customers_;
  std::unique_ptr<RedisCommands> redis_;
  std::unique_ptr<RedisSink> sink_;
  std::unique_ptr<QueryEngine> query_;
};

// Loads and validates `config_path` and builds a Runtime from it; on failure
// logs the file:line message and returns nullptr (the caller exits with
// kExitConfig). The shared first step of every subcommand.
std::unique_ptr<Runtime> LoadRuntimeOrLog(const std::string& config_path, const Clock* clock);

// Expands a source's globs (rotated and .gz files included); sorted oldest first.
std::vector<std::string> ExpandSourcePaths(const SourceConfig& source);

}  // namespace apimeter

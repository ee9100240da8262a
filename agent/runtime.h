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
#include "sink/block_cache.h"
#include "sink/cluster_client.h"
#include "sink/redis_client.h"
#include "sink/flush_protocol.h"
#include "sink/redis_sink.h"
#include "sink/sink.h"

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
  // Made on first use: a resolver pre-allocates its cache (about 7 MB for
  // 100,000 entries), which processes that only read (query, serve, report)
  // never need. Not thread-safe; the owner's thread only.
  CustomerResolver& customers() {
    if (!customers_) customers_ = NewCustomerResolver();
    return *customers_;
  }
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

  // Retention, limits and the slow top N, as every writer uses them.
  SinkOptions sink_options() const;
  // Builds the Redis client, sink and query engine without connecting (the
  // client connects on first use and reconnects after failures). The sink
  // writes the schema of redis.schema: a BlockSink on StandaloneFlush for 2,
  // a RedisSink for 1. InvalidArgument for schema 2 with redis.cluster (the
  // cluster protocol for blocks is not in this build yet).
  Status CreateRedis();
  // CreateRedis, then connects now so a wrong URL or password fails early,
  // and checks that Redis holds the configured schema (Sink::CheckSchema:
  // InvalidArgument naming `apimeter migrate` otherwise).
  // With redis.cluster set, the client is a ClusterClient (sink/cluster_client.h).
  Status ConnectRedis();
  RedisCommands& redis() { return *redis_; }
  Sink& sink() { return *sink_; }
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
  // A QueryEngine on `client` reading the schema redis.schema names.
  std::unique_ptr<QueryEngine> NewQueryEngine(RedisCommands* client) const;
  RetentionSeconds Retention() const;

  Config config_;
  const Clock* clock_ = nullptr;
  std::string host_;
  std::vector<SourceRuntime> sources_;
  std::unique_ptr<EndpointNormalizer> normalizer_;
  std::unique_ptr<CustomerResolver> customers_;
  std::unique_ptr<ClientReducer> clients_;  // $http_user_agent -> client (issue 18 part 2)
  std::unique_ptr<RedisCommands> redis_;
  std::unique_ptr<FlushProtocol> protocol_;  // schema 2: drives redis_ for sink_
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<QueryEngine> query_;
  // Schema 2: decoded base blocks, shared by every query engine of this
  // runtime (serve's workers); created with the runtime.
  std::shared_ptr<BlockCache> block_cache_;
};

// Loads and validates `config_path` and builds a Runtime from it; on failure
// logs the file:line message and returns nullptr (the caller exits with
// kExitConfig). The shared first step of every subcommand.
std::unique_ptr<Runtime> LoadRuntimeOrLog(const std::string& config_path, const Clock* clock);

// Expands a source's globs (rotated and .gz files included); sorted oldest first.
std::vector<std::string> ExpandSourcePaths(const SourceConfig& source);

}  // namespace apimeter

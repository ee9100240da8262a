#include "agent/runtime.h"

#include <fnmatch.h>
#include <glob.h>

#include <spdlog/spdlog.h>

#include <set>

#include "agent/backfill.h"
#include "common/time_util.h"
#include "query/series_store.h"
#include "sink/block_sink.h"
#include "sink/cluster_block_flush.h"
#include "sink/standalone_flush.h"

namespace apimeter {

Result<std::unique_ptr<Runtime>> Runtime::Create(const Config& config, const Clock* clock) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->config_ = config;
  rt->clock_ = clock;
  for (const auto& src : config.sources) {
    auto parser = LineParser::Compile(FormatSpecOf(src, config.limits.max_line_bytes));
    if (!parser.ok()) {
      return parser.status().WithContext(config.path + ":" + std::to_string(src.line));
    }
    auto customer_key = CustomerKeyExtractor::Compile(CustomerKeySpecOf(src));
    if (!customer_key.ok()) {
      return customer_key.status().WithContext(config.path + ":" + std::to_string(src.line));
    }
    rt->sources_.push_back(
        SourceRuntime{src, std::move(parser).value(), std::move(customer_key).value()});
  }
  if (rt->sources_.empty()) {
    return Status::InvalidArgument(config.path + ": no sources configured");
  }
  rt->host_ = rt->sources_.front().config.host;
  std::vector<RouteSpec> routes;
  for (const auto& r : config.routes) routes.push_back(RouteSpec{r.template_path, r.match, r.name});
  auto normalizer = EndpointNormalizer::Create(routes);
  if (!normalizer.ok()) return normalizer.status().WithContext(config.path);
  rt->normalizer_ = std::make_unique<EndpointNormalizer>(std::move(normalizer).value());
  for (const auto& w : config.warnings) spdlog::warn("{}", w);
  rt->clients_ = std::make_unique<ClientReducer>(config.client_rules);
  rt->block_cache_ = std::make_shared<BlockCache>(kDefaultBlockCacheBytes);
  return rt;
}

AggregatorOptions Runtime::aggregator_options() const {
  AggregatorOptions o;
  o.host = host_;
  o.max_endpoints = config_.limits.endpoints_per_day;
  o.max_customers = config_.limits.customers_per_day;
  o.slow_top_n = config_.aggregation.slow_top_n;
  o.max_clients = config_.limits.clients_per_day;
  return o;
}

LinePipelineOptions Runtime::pipeline_options(bool show_raw_lines) const {
  LinePipelineOptions o;
  o.max_future_us = config_.limits.max_future_s * kMicrosPerSecond;
  o.show_raw_lines = show_raw_lines;
  o.clients = clients_.get();
  return o;
}

Result<SourceRuntime*> Runtime::SourceForFile(const std::string& path) {
  for (auto& s : sources_) {
    for (const auto& pattern : s.config.paths) {
      if (::fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return &s;
      // "access.log*" also covers rotations; accept "<pattern>.N[.gz]" too.
      if (::fnmatch((pattern + ".*").c_str(), path.c_str(), 0) == 0) return &s;
    }
  }
  if (sources_.size() == 1) return &sources_.front();
  return Status::InvalidArgument(path +
                                 " matches no source's paths; add it to a source's `paths` or "
                                 "pass files that match one");
}

Result<std::unique_ptr<RedisCommands>> Runtime::NewRedisClient() const {
  auto ep = ParseRedisUrl(config_.redis.url);
  if (!ep.ok()) return ep.status();
  ep->connect_timeout = std::chrono::milliseconds(config_.redis.connect_timeout_ms);
  ep->command_timeout = std::chrono::milliseconds(config_.redis.command_timeout_ms);
  return NewRedisCommands(*ep, config_.redis.cluster);
}

RetentionSeconds Runtime::Retention() const {
  RetentionSeconds rs;
  rs.minute_s = config_.retention.minute_s;
  rs.hour_s = config_.retention.hour_s;
  rs.day_s = config_.retention.day_s;
  return rs;
}

Result<Runtime::QueryConnection> Runtime::NewQueryConnection() const {
  QueryConnection c;
  APIMETER_ASSIGN_OR_RETURN(c.redis, NewRedisClient());
  c.query = NewQueryEngine(c.redis.get());
  return c;
}

std::unique_ptr<QueryEngine> Runtime::NewQueryEngine(RedisCommands* client) const {
  return std::make_unique<QueryEngine>(
      MakeSeriesStore(config_.redis.schema, client, config_.redis.prefix, block_cache_),
      Retention(), clock_);
}

SinkOptions Runtime::sink_options() const {
  SinkOptions so;
  so.minute_retention_s = config_.retention.minute_s;
  so.hour_retention_s = config_.retention.hour_s;
  so.day_retention_s = config_.retention.day_s;
  so.endpoints_per_day = config_.limits.endpoints_per_day;
  so.customers_per_day = config_.limits.customers_per_day;
  so.clients_per_day = config_.limits.clients_per_day;
  so.slow_top_n = config_.aggregation.slow_top_n;
  return so;
}

Status Runtime::CreateRedis() {
  if (redis_) return Status::Ok();
  APIMETER_ASSIGN_OR_RETURN(redis_, NewRedisClient());
  const SinkOptions so = sink_options();
  if (config_.redis.schema == 2) {
    if (ClusterClient* cluster = redis_->AsCluster()) {
      protocol_ = std::make_unique<ClusterBlockFlush>(cluster, BlockKeys(config_.redis.prefix));
    } else {
      protocol_ = std::make_unique<StandaloneFlush>(redis_.get(), BlockKeys(config_.redis.prefix));
    }
    sink_ = std::make_unique<BlockSink>(redis_.get(), protocol_.get(),
                                        BlockKeys(config_.redis.prefix), so, clock_);
  } else {
    sink_ =
        std::make_unique<RedisSink>(redis_.get(), KeySchema(config_.redis.prefix), so, clock_);
  }
  query_ = NewQueryEngine(redis_.get());
  return Status::Ok();
}

Status Runtime::ConnectRedis() {
  APIMETER_RETURN_IF_ERROR(CreateRedis());
  Status st = redis_->Connect();
  if (!st.ok()) {
    if (!config_.redis.cluster.empty()) return st.WithContext("redis.cluster");
    return st.WithContext("redis " + MaskRedisUrl(config_.redis.url));
  }
  return sink_->CheckSchema();
}

std::unique_ptr<Runtime> LoadRuntimeOrLog(const std::string& config_path, const Clock* clock) {
  auto config = LoadConfigFile(config_path);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return nullptr;
  }
  auto rt = Runtime::Create(*config, clock);
  if (!rt.ok()) {
    spdlog::error("{}", rt.status().message());
    return nullptr;
  }
  return std::move(rt).value();
}

std::vector<std::string> ExpandSourcePaths(const SourceConfig& source) {
  std::set<std::string> found;
  for (const auto& pattern : source.paths) {
    for (const std::string& p : {pattern, pattern + ".[0-9]*"}) {
      glob_t g{};
      if (::glob(p.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) found.insert(g.gl_pathv[i]);
      }
      ::globfree(&g);
    }
  }
  return SortOldestFirst(std::vector<std::string>(found.begin(), found.end()));
}

std::unique_ptr<CustomerResolver> Runtime::NewCustomerResolver() const {
  return std::make_unique<CustomerResolver>(config_.customer_id_secret, config_.customers);
}

}  // namespace apimeter

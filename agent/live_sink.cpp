#include "agent/live_sink.h"

#include <cstdlib>

#include "sink/cluster_client.h"

namespace apimeter {

std::string RedisLiveSink::Describe() const { return MaskRedisUrl(url_); }

std::string RedisLiveSink::StateKey(std::string_view host) const {
  return prefix_ + ":agent:" + std::string(host);
}

Status RedisLiveSink::Ping() {
  auto pong = redis_->Command({"PING"});
  if (!pong.ok()) return pong.status();
  if (pong->is_error()) return Status::Unavailable(pong->str);
  return sink_->CheckSchema();
}

Result<std::string> RedisLiveSink::ReadCheckpoint(std::string_view host,
                                                  std::string_view fingerprint) {
  return sink_->ReadCheckpoint(host, fingerprint);
}

Status RedisLiveSink::Flush(const FlushBatch& batch) { return sink_->Flush(batch); }

Result<int64_t> RedisLiveSink::ReadLastAlive(std::string_view host) {
  auto r = redis_->Command({"HGET", StateKey(host), "last_alive"});
  if (!r.ok()) return r.status();
  if (r->is_error()) return Status::Internal(r->str);
  if (r->type != RedisReply::Type::kString) return int64_t{0};
  return static_cast<int64_t>(std::atoll(r->str.c_str()));
}

Status RedisLiveSink::WriteLastAlive(std::string_view host, int64_t seconds, bool only_if_unset) {
  auto r = redis_->Command(
      {only_if_unset ? "HSETNX" : "HSET", StateKey(host), "last_alive", std::to_string(seconds)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return Status::Internal(r->str);
  return Status::Ok();
}

void RedisLiveSink::FillMetrics(AgentMetrics* metrics) {
  const SinkStats s = sink_->ExportStats();
  AgentMetrics::Store& m = metrics->store;
  m.schema = sink_->schema_version();
  m.blocks = s.blocks;
  m.block_bytes = s.block_bytes;
  m.compactions = s.compactions;
  m.compaction_lost_races = s.compaction_lost_races;
  m.compaction_failures = s.compaction_failures;
  m.compactions_pending = s.compactions_pending;
  m.registry_calls = s.registry_calls;
  m.registry_refused = s.registry_refused;
  if (ClusterClient* cluster = redis_->AsCluster()) {
    metrics->cluster_moved = cluster->stats().moved;
    metrics->cluster_ask = cluster->stats().ask;
    metrics->cluster_refreshes = cluster->stats().refreshes;
  }
}

}  // namespace apimeter

// RedisSink: applies a FlushBatch (aggregate deltas + file checkpoints) to
// Redis atomically and exactly once, as docs/redis-schema.md describes.
//
// Promise:
// - Flush either applies the whole batch (data, slow requests, checkpoints,
//   idempotency token) in one MULTI/EXEC, or nothing of it.
// - Checkpoints are compare-and-set: if a stored checkpoint differs from
//   FileCheckpoint::expected, Flush returns kAborted and writes nothing.
// - A batch whose outcome was unknown (kUnavailable) can be passed to Flush
//   again: its idempotency token tells whether the first attempt committed, so
//   nothing is ever counted twice.
// - Deltas whose bucket is past its tier's retention are dropped (counted in
//   stats), and every key written carries EXPIREAT bucket_end + retention.
// - Endpoint and customer names go through the per-day admission registry;
//   names not admitted are written as "other" (rollups that collide merge).
// - Memory: the admitted-name cache holds at most kMaxCachedDays days, each at
//   most the per-day limits.
// - On a ClusterClient the flush is per slot (sink/cluster_flush.cpp): the
//   checkpoints and a journal of the batch commit first in the host's slot,
//   then each (tier, bucket, shard) group applies under a dedupe marker in
//   its own slot; the same guarantees hold (docs/redis-schema.md, "Redis Cluster").
// - Schema: it writes storage schema 1 only. CheckSchema (and Flush, before
//   its first write) refuses a Redis whose P:schema marker is set: a v2 (or
//   migrating) store is never written with v1 keys.
// Thread-safety: not thread-safe (it drives one client). One sink per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "aggregator/flush_batch.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/result.h"
#include "common/status.h"
#include "sink/redis_client.h"
#include "sink/schema.h"
#include "sink/sink.h"

namespace apimeter {

class ClusterJournal;

struct SinkOptions {
  int64_t minute_retention_s = defaults::kMinuteRetentionS;
  int64_t hour_retention_s = defaults::kHourRetentionS;
  int64_t day_retention_s = defaults::kDayRetentionS;
  int64_t endpoints_per_day = defaults::kEndpointsPerDay;
  int64_t customers_per_day = defaults::kCustomersPerDay;
  int64_t clients_per_day = 1000;  // limits.clients_per_day (storage v2 only)
  int64_t slow_top_n = defaults::kSlowTopN;
  // How long an idempotency token is kept: a batch retried later than this
  // after an unknown outcome could be counted twice.
  int64_t token_ttl_s = 86400;
};

// Names that are always admitted and never stored in the registry.
inline constexpr std::string_view kOtherName = "other";
inline constexpr std::string_view kAnonymousName = "anonymous";

class RedisSink final : public Sink {
 public:
  static constexpr size_t kMaxCachedDays = 4;

  RedisSink(RedisCommands* client, KeySchema schema, SinkOptions options, const Clock* clock);
  ~RedisSink();

  int schema_version() const override { return 1; }
  // OK when P:schema is absent (v1 never sets it); InvalidArgument otherwise.
  Status CheckSchema() override;
  // The stored checkpoint value of one file ("" when none).
  Result<std::string> ReadCheckpoint(std::string_view host, std::string_view fingerprint) override;

  // Applies the batch and its checkpoints atomically.
  // kAborted: a checkpoint moved (another process advanced the file), or a
  //   watched key changed before EXEC; nothing written.
  // kUnavailable: Redis unreachable or timed out; the outcome may be unknown,
  //   and calling Flush again with the same batch is safe.
  // kInvalidArgument: the batch is malformed (e.g. a customer × endpoint name
  //   without the separator, a checkpoint listed twice); nothing written.
  // kInternal: Redis answered an error reply (or a reply of the wrong shape)
  //   anywhere in the flush; the message gives the command and Redis's reason
  //   (logged). Before the transaction (or, in cluster mode, the commit
  //   point) nothing was written. An error among EXEC's results leaves the
  //   other commands of a standalone transaction applied; in cluster mode
  //   after the commit point, the batch stays journaled and the next flush
  //   finishes it.
  Status Flush(const FlushBatch& batch) override;
  // v1 has no background work.
  Status Maintain(size_t /*max_groups*/) override { return Status::Ok(); }
  SinkStats ExportStats() const override;

  struct Stats {
    uint64_t flushes = 0;   // committed flushes (including ones found already applied)
    uint64_t commands = 0;  // Redis commands sent by Flush
    uint64_t failures = 0;  // Flush calls that did not return OK
    uint64_t dropped_expired_deltas = 0;  // series deltas and slow entries past retention
    uint64_t other_endpoints = 0;         // endpoint names rewritten to "other" (per flush)
    uint64_t other_customers = 0;         // customer names rewritten to "other" (per flush)
    uint64_t already_applied = 0;         // retries whose token showed an earlier commit
    // Cluster mode: slot groups found applied by an earlier attempt (marker
    // present), and journaled batches finished after a crash or failure.
    uint64_t groups_already_applied = 0;
    uint64_t journals_recovered = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct DayNames {
    std::unordered_set<std::string> endpoints, customers;
  };

  Status FlushOnce(const FlushBatch& batch, const std::string& token);
  // Cluster mode (sink/cluster_flush.cpp).
  Status FlushCluster(ClusterClient& cluster, const FlushBatch& batch, const std::string& token);
  Status FlushJournaled(const FlushBatch& batch, const std::string& token);
  int64_t RetentionSeconds(Tier tier) const;
  // Copies the batch without expired entries.
  FlushBatch DropExpired(const FlushBatch& batch);
  // Asks the registry about names not cached as admitted; rewrites the rest.
  Status Admit(FlushBatch* batch);
  // Runs the admission script for `ask` (day -> names not yet known) and
  // records the admitted ones in *fresh.
  Status QueryRegistry(const std::map<int64_t, DayNames>& ask, std::map<int64_t, DayNames>* fresh);
  void Remember(const std::map<int64_t, DayNames>& fresh);
  bool Admitted(const std::map<int64_t, DayNames>& fresh, int64_t day, char kind,
                const std::string& name) const;
  Status Rewrite(const std::map<int64_t, DayNames>& fresh, FlushBatch* batch) const;
  // check_types: the script checks every key's type before its first write
  // (cluster mode, where a failed call is retried).
  void AppendSeries(const FlushBatch& batch, bool check_types, std::vector<RedisArgs>* tx) const;
  void AppendSlow(const FlushBatch& batch, std::vector<RedisArgs>* tx) const;
  // Token of this batch: its id, or a remembered one for a retried content.
  std::string TokenFor(const FlushBatch& batch);

  RedisCommands* client_;
  KeySchema schema_;
  SinkOptions options_;
  const Clock* clock_;
  Stats stats_;
  bool schema_checked_ = false;
  std::map<int64_t, DayNames> admitted_;  // day -> names known to be admitted
  uint64_t pending_hash_ = 0;             // content hash of a batch whose flush failed
  std::string pending_token_;
  // Cluster mode: the journal protocol (made at the first cluster flush).
  std::unique_ptr<ClusterJournal> journal_;
};

}  // namespace apimeter

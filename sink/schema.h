// KeySchema and the Rollup field codec: the one place that spells Redis key
// and field names. docs/redis-schema.md is the reference; this code and that
// document change together.
//
// Promise: pure functions of their arguments (no I/O). The writer (RedisSink)
// and every reader (QueryEngine, reports, alerts) build keys only through
// KeySchema, so the two sides cannot drift apart. Thread-safe (immutable).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "common/status.h"
#include "sink/redis_client.h"

namespace apimeter {

enum class IndexKind : uint8_t {
  kEndpoints,         // ie: endpoint -> requests
  kCustomers,         // ic: customer -> requests
  kCustomerBytesOut,  // icb: customer -> bytes out
  kHosts,             // ih: host -> requests
};

class KeySchema {
 public:
  static constexpr int kShards = 8;

  explicit KeySchema(std::string prefix) : prefix_(std::move(prefix)) {}
  const std::string& prefix() const { return prefix_; }

  // "all", "h:<host>", "e:<endpoint>", "c:<customer>", "ce:<customer>\x1f<endpoint>".
  static std::string MemberId(SeriesKind kind, std::string_view name);
  // The entity that decides the shard: "all", the host, the endpoint, or the
  // customer (for both customer and customer × endpoint series).
  static int ShardOf(SeriesKind kind, std::string_view name);
  static int ShardOfEntity(std::string_view entity);

  // P:{<T><bucket>.<shard>}
  std::string BucketTag(Tier tier, int64_t bucket, int shard) const;
  std::string SeriesKey(Tier tier, int64_t bucket, SeriesKind kind, std::string_view name) const;
  std::string MaxKey(Tier tier, int64_t bucket, int shard) const;
  std::string IndexKey(Tier tier, int64_t bucket, int shard, IndexKind kind) const;
  // Endpoints of one customer; lives in the customer's shard.
  std::string CustomerEndpointIndexKey(Tier tier, int64_t bucket,
                                       std::string_view customer) const;
  std::string SlowKey(int64_t day) const;
  // P:schema, the storage schema marker: absent in v1, "2" in v2
  // (docs/storage-v2.md "Schema version and migration").
  std::string SchemaKey() const { return prefix_ + ":schema"; }
  // kind: 'e' endpoints, 'c' customers.
  std::string RegistryKey(int64_t day, char kind) const;
  std::string CheckpointKey(std::string_view host, std::string_view fingerprint) const;
  // Redis Cluster only: P:{ckpt:<host>}, the hash tag that puts a host's
  // checkpoints, flush journal and tokens in one slot; and the checkpoint
  // key under it (docs/redis-schema.md, "Redis Cluster").
  std::string HostTag(std::string_view host) const;
  std::string ClusterCheckpointKey(std::string_view host, std::string_view fingerprint) const;

 private:
  std::string prefix_;
};

// The hash fields of a Rollup, as (field, value) pairs with value != 0.
// latency_max_us is not a hash field (it lives in the max sorted set).
std::vector<std::pair<std::string, int64_t>> EncodeRollupFields(const Rollup& rollup);

// Adds the fields of an HGETALL reply (flat array field, value, ...) into
// *out. Unknown fields are an error (a schema mismatch), not silently dropped.
Status DecodeRollupFields(const RedisReply& hgetall, Rollup* out);

// Slow-request sorted-set member and its inverse.
std::string EncodeSlowMember(const SlowRequest& slow);
bool DecodeSlowMember(std::string_view member, int64_t latency_us, SlowRequest* out);

}  // namespace apimeter

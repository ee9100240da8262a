// BlockKeys: the one place that spells storage-v2 Redis keys and shards
// (docs/redis-schema.md "Groups and keys"). Keys v2 shares with v1
// (checkpoints, idempotency tokens, slow requests, the registry key names)
// come from KeySchema, so the two schemas cannot drift apart there.
//
// Promise: pure functions of their arguments (no I/O). Every key of one
// group (its kind lists and its meta hash) carries the hash tag
// {T<bucket>.<shard>}, and every key of a day's registry the tag {reg<day>},
// so each multi-key step stays in one Redis Cluster slot. The shard of a
// series depends only on its name (never on its id), so a reader finds the
// shard of one endpoint or customer without the registry.
// Thread-safe (immutable).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aggregator/flush_batch.h"
#include "sink/block.h"
#include "sink/schema.h"

namespace apimeter {

// The schema version v2 stores in P:schema.
inline constexpr std::string_view kStorageSchemaVersion = "2";
// What P:schema holds while `apimeter migrate` converts v1 data: no v1 or
// v2 process reads or writes meanwhile (sink/migrate_v1.h).
inline constexpr std::string_view kMigratingSchemaMarker = "migrating";

// Shards per tier (kShards[tier] in the design): minute 1, hour 2, day 8.
// Schema constants: changing them needs a migration.
constexpr int BlockShards(Tier tier) {
  return tier == Tier::kMinute ? 1 : tier == Tier::kHour ? 2 : 8;
}

// The registry kinds of a day: endpoint, customer and host names.
// kClient (issue 18 part 2): the clients of a day (reduced user agents).
enum class NameKind : uint8_t { kEndpoint = 'e', kCustomer = 'c', kHost = 'h', kClient = 'u' };

class BlockKeys {
 public:
  explicit BlockKeys(std::string prefix) : v1_(std::move(prefix)) {}
  const std::string& prefix() const { return v1_.prefix(); }

  // fnv1a32(name) % BlockShards(tier): the shard of an endpoint (kind e) or
  // a customer (kinds c, x and w) or a client (kinds u and v).
  static uint16_t ShardOfName(Tier tier, std::string_view name);

  // P:{T<bucket>.<shard>}
  std::string GroupTag(Tier tier, int64_t bucket, uint16_t shard) const;
  // P:{T<bucket>.<shard>}:<kind>, the group's list of blocks.
  std::string ListKey(const BlockGroup& group) const;
  // P:{T<bucket>.<shard>}:meta, generation and base CRC per kind.
  std::string MetaKey(const BlockGroup& group) const;
  // P:{reg<day>}:<e|c|h|u> name -> id, and P:{reg<day>}:n, the last id per kind.
  std::string RegistryKey(int64_t day, NameKind kind) const;
  std::string RegistryCounterKey(int64_t day) const;
  std::string SchemaKey() const { return v1_.SchemaKey(); }
  std::string TokenKey(std::string_view token) const;
  std::string CheckpointKey(std::string_view host, std::string_view fingerprint) const {
    return v1_.CheckpointKey(host, fingerprint);
  }
  std::string SlowKey(int64_t day) const { return v1_.SlowKey(day); }

 private:
  KeySchema v1_;
};

// Meta hash fields of a kind: "g<kind>" (generation) and "b<kind>" (base CRC).
std::string GenerationField(BlockKind kind);
std::string BaseCrcField(BlockKind kind);

}  // namespace apimeter

#include "sink/block_keys.h"

namespace apimeter {

uint16_t BlockKeys::ShardOfName(Tier tier, std::string_view name) {
  // KeySchema::ShardOfEntity is fnv1a32(name) % 8, and every tier's shard
  // count divides 8, so this is fnv1a32(name) % BlockShards(tier).
  static_assert(KeySchema::kShards % BlockShards(Tier::kMinute) == 0 &&
                KeySchema::kShards % BlockShards(Tier::kHour) == 0 &&
                KeySchema::kShards % BlockShards(Tier::kDay) == 0);
  return static_cast<uint16_t>(KeySchema::ShardOfEntity(name) % BlockShards(tier));
}

std::string BlockKeys::GroupTag(Tier tier, int64_t bucket, uint16_t shard) const {
  return v1_.BucketTag(tier, bucket, shard);
}

std::string BlockKeys::ListKey(const BlockGroup& g) const {
  std::string k = GroupTag(g.tier, g.bucket, g.shard);
  k += ':';
  k += BlockKindLetter(g.kind);
  return k;
}

std::string BlockKeys::MetaKey(const BlockGroup& g) const {
  return GroupTag(g.tier, g.bucket, g.shard) + ":meta";
}

std::string BlockKeys::RegistryKey(int64_t day, NameKind kind) const {
  return v1_.RegistryKey(day, static_cast<char>(kind));
}

std::string BlockKeys::RegistryCounterKey(int64_t day) const { return v1_.RegistryKey(day, 'n'); }

std::string BlockKeys::TokenKey(std::string_view token) const {
  return prefix() + ":flush:" + std::string(token);
}

std::string GenerationField(BlockKind kind) { return std::string("g") + BlockKindLetter(kind); }
std::string BaseCrcField(BlockKind kind) { return std::string("b") + BlockKindLetter(kind); }

}  // namespace apimeter

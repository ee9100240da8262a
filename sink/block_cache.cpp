#include "sink/block_cache.h"

#include <utility>

namespace apimeter {

std::shared_ptr<const DecodedBlock> BlockCache::Get(std::string_view key,
                                                    const BlockVersion& version) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end() || !(it->second->version == version)) {
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return it->second->block;
}

std::optional<BlockVersion> BlockCache::CachedVersion(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return it->second->version;
}

void BlockCache::Put(std::string_view key, const BlockVersion& version,
                     std::shared_ptr<const DecodedBlock> block) {
  if (!block) return;
  const size_t charge = block->MemoryBytes() + key.size() + kEntryOverheadBytes;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) EraseLocked(it->second);
  if (charge > capacity_) {
    ++stats_.too_large;
    return;
  }
  while (stats_.bytes + charge > capacity_) {
    EraseLocked(std::prev(lru_.end()));
    ++stats_.evictions;
  }
  lru_.push_front(Entry{std::string(key), version, std::move(block), charge});
  index_.emplace(lru_.front().key, lru_.begin());
  stats_.bytes += charge;
  ++stats_.entries;
}

BlockCache::Stats BlockCache::GetStats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.capacity_bytes = capacity_;
  return s;
}

void BlockCache::EraseLocked(Lru::iterator it) {
  stats_.bytes -= it->charge;
  --stats_.entries;
  index_.erase(it->key);
  lru_.erase(it);
}

}  // namespace apimeter

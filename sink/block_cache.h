// BlockCache: decoded base blocks, shared by the threads that answer queries.
//
// Promise: Get(key, version) returns the block stored by Put(key, version,
// ...) if it is still cached, else null; a block is never returned for a
// version other than the one it was stored with. A key holds one version at a
// time: Put replaces whatever version the key had (a group's older bases are
// never read again). The cached total, charged as DecodedBlock::MemoryBytes()
// plus the key and a fixed per-entry overhead, never exceeds the capacity:
// Put evicts the least recently used entries (Get and Put make an entry the
// most recent) until it fits, and a block larger than the whole capacity is
// not kept. Blocks are shared, immutable, and outlive their eviction while a
// reader holds them (that memory is the reader's, not counted here).
//
// The version is what docs/storage-v2.md "Reading" says identifies a base:
// the group's generation and the base's header CRC (meta `g<kind>` and
// `b<kind>`), so a group deleted and written again from generation 0 cannot
// hit a base cached from its earlier life.
//
// Thread-safety: every method may be called from any thread at once (one
// mutex; each call does O(1) work under it, evictions aside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sink/block.h"

namespace apimeter {

struct BlockVersion {
  uint64_t generation = 0;
  uint32_t base_crc = 0;  // BlockHeader::header_crc of the base
  friend bool operator==(const BlockVersion&, const BlockVersion&) = default;
};

class BlockCache {
 public:
  // Bytes charged per entry on top of the block and its key (list and map
  // nodes, control block of the shared pointer).
  static constexpr size_t kEntryOverheadBytes = 160;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;     // Get found no entry, or one of another version
    uint64_t evictions = 0;  // entries dropped to make room
    uint64_t too_large = 0;  // Put of a block larger than the capacity
    size_t entries = 0;
    size_t bytes = 0;  // charged bytes of the entries held
    size_t capacity_bytes = 0;
  };

  explicit BlockCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const DecodedBlock> Get(std::string_view key, const BlockVersion& version);
  // The version `key` is cached at, if any, so a reader can ask Redis
  // whether it is still current. Counts nothing and does not touch the LRU
  // order; the reader then calls Get with that version.
  std::optional<BlockVersion> CachedVersion(std::string_view key) const;
  void Put(std::string_view key, const BlockVersion& version,
           std::shared_ptr<const DecodedBlock> block);
  Stats GetStats() const;

 private:
  struct Entry {
    std::string key;
    BlockVersion version;
    std::shared_ptr<const DecodedBlock> block;
    size_t charge = 0;
  };
  using Lru = std::list<Entry>;  // most recent first

  void EraseLocked(Lru::iterator it);

  const size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;
  // Keys are views of the entries' own strings (list nodes do not move).
  std::unordered_map<std::string_view, Lru::iterator> index_;
  Stats stats_;
};

}  // namespace apimeter

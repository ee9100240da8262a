// BlockCompactor: merges a group's blocks into one base block by an
// idempotent compare-and-swap (docs/storage-v2.md "Compaction"). Any writer
// or reader may run it, in any order, as often as it likes.
//
// Steps: Prepare (1) reads the group atomically (generation g, elements
// 0..n-1) and (2) decodes, merges and encodes their sum as a base; Commit
// (3) runs one script that, only if meta g<kind> still equals g, the list
// has at least n elements and element n-1 still has the header read in
// step 1, replaces elements 0..n-1 by the base (LTRIM n -1, LPUSH base),
// bumps g<kind>, stores the base's header CRC in b<kind> and re-applies
// EXPIREAT to both keys.
//
// Promise: nothing is lost or counted twice whatever happens between or
// during steps. Flushes only append at the tail, so the first n elements are
// the ones read unless another compaction ran, which bumped g and makes this
// Commit a no-op (kLostRace); the header check also catches a group deleted
// and written again from generation 0. A crash before Commit changes
// nothing; a Commit whose reply was lost can be committed again (it is then
// kLostRace: the generation moved). Prepare returns nullopt for a group
// with fewer than 2 blocks (nothing to merge). A block that fails its
// checks fails Prepare with its key, and the group is left as it is.
// Thread-safety: drives one client; one owner at a time. Many compactors in
// many processes may work on the same group at once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "sink/block_codec.h"
#include "sink/block_keys.h"
#include "sink/block_merge.h"
#include "sink/redis_client.h"
#include "sink/redis_sink.h"

namespace apimeter {

struct PreparedCompaction {
  BlockGroup group;
  uint64_t generation = 0;   // as read
  size_t count = 0;          // elements 0..count-1 are replaced
  std::string last_header;   // header of element count-1, as read
  std::string base;          // the encoded sum, a base block
  uint32_t base_crc = 0;     // its header CRC
  int64_t expire_at = 0;
};

enum class CompactionOutcome {
  kCompacted,  // the base replaced the blocks read
  kLostRace,   // the group changed since Prepare (another compaction ran); nothing done
};

class BlockCompactor {
 public:
  BlockCompactor(RedisCommands* client, BlockKeys keys, SinkOptions options)
      : client_(client), keys_(std::move(keys)), options_(options) {}

  // Steps 1 and 2 for each group, the reads in one round trip.
  Result<std::vector<std::optional<PreparedCompaction>>> Prepare(
      std::span<const BlockGroup> groups);
  // Step 3 for each, in one round trip. Every reply is checked.
  Result<std::vector<CompactionOutcome>> Commit(std::span<const PreparedCompaction> prepared);
  // Prepare then Commit; groups with nothing to merge are left out of the result.
  Result<std::vector<CompactionOutcome>> Compact(std::span<const BlockGroup> groups);

  struct Stats {
    uint64_t compacted = 0;
    uint64_t lost_races = 0;
    uint64_t blocks_merged = 0;  // blocks replaced by bases
  };
  const Stats& stats() const { return stats_; }

 private:
  RedisCommands* client_;
  BlockKeys keys_;
  SinkOptions options_;
  BlockDecoder decoder_;
  BlockEncoder encoder_;
  BlockMerger merger_;
  DecodedBlock merged_;
  Stats stats_;
};

}  // namespace apimeter

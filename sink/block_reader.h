// BlockReader: reads storage-v2 groups and merges their blocks
// (docs/storage-v2.md "Reading"). The minimal reader: no block cache yet;
// the compactor and the tests use it, the query path will build on it.
//
// Promise:
// - ReadGroups reads each group atomically (MULTI, HMGET meta g<kind>
//   b<kind>, LRANGE list 0 -1, EXEC), all groups in one pipelined round
//   trip, so a group's generation, base CRC and blocks always belong
//   together. Every reply is checked: an error reply or a reply of the wrong
//   shape is an error naming the key.
// - With `first`, each group's LRANGE starts there (StoredGroup::first).
// - MergeStoredGroup (a group read from element 0) decodes every block
//   against its group and checks the list's shape: element 0 is a base whose header CRC is the meta's
//   b<kind> exactly when the generation is >= 1, every other element a
//   delta. Any failure is a ParseError naming the key and element; never a
//   crash or a wrong sum. A group with no blocks merges to an empty block.
// - ReadBucketSeries gives every series of one (tier, bucket) by name: all
//   shards of kinds a, e, c (and x in the day tier), ids turned into names
//   with the day's registry. An id the registry does not know is an error.
// Thread-safety: free functions over the caller's client, decoder and merger.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "aggregator/rollup.h"
#include "common/result.h"
#include "sink/block_codec.h"
#include "sink/block_keys.h"
#include "sink/block_merge.h"
#include "sink/name_registry.h"
#include "sink/redis_client.h"

namespace apimeter {

// One group as stored.
struct StoredGroup {
  BlockGroup group;
  std::string key;          // the list's key
  uint64_t generation = 0;  // compactions so far
  uint32_t base_crc = 0;    // header CRC of element 0 when generation >= 1
  uint32_t first = 0;       // list index of blocks[0] (1: the base was not read)
  std::vector<std::string> blocks;
};

// `first` (empty, or one per group): the list index each LRANGE starts at,
// so a reader that holds a group's base can skip it (docs/storage-v2.md
// "Reading").
Result<std::vector<StoredGroup>> ReadGroups(RedisCommands& client, const BlockKeys& keys,
                                            std::span<const BlockGroup> groups,
                                            std::span<const uint32_t> first = {});

Status MergeStoredGroup(const StoredGroup& stored, BlockDecoder* decoder, BlockMerger* merger,
                        DecodedBlock* out);

// A series by name, as the aggregator names them (SeriesDelta::kind, name).
struct SeriesName {
  SeriesKind kind = SeriesKind::kAll;
  std::string name;
  friend auto operator<=>(const SeriesName&, const SeriesName&) = default;
};
using BucketSeries = std::map<SeriesName, Rollup>;

// Registry dictionaries by (day, kind), kept across calls by a caller that
// reads many buckets; a dictionary is read again when a block holds an id
// it does not know yet (dictionaries only grow).
using NameDictionaries = std::map<std::pair<int64_t, NameKind>, std::vector<std::string>>;

Result<BucketSeries> ReadBucketSeries(RedisCommands& client, const BlockKeys& keys, Tier tier,
                                      int64_t bucket, NameDictionaries* dictionaries = nullptr);

}  // namespace apimeter

// FlushBlocks: the pure part of a storage-v2 flush — which deltas a tier
// still keeps, which names the registry must number, and the encoding of a
// FlushBatch into one delta block per (tier, bucket, shard, kind) group
// (docs/redis-schema.md "Groups and keys"; docs/storage-v2.md "Writing").
//
// Promise: no I/O; deterministic (groups sorted by tier, bucket, shard,
// kind). Series map to groups and keys as the design says:
//   all -> kind a key 0; host -> kind a key host id + 1 (both shard 0);
//   endpoint -> kind e, customer -> kind c, customer x endpoint -> kind x
//   (day tier only) keyed (customer id, endpoint id);
// the shard comes from the name a series is stored under (a refused name is
// stored as "other" and lives in the shard of "other"). Deltas whose names
// land on one key are summed exactly (BuildBlock). A series with no request
// and no rejected line is not written. Slow requests get their refused names
// rewritten to "other", as v1.
// Thread-safety: pure functions; an encoder argument has one owner.
#pragma once

#include <cstdint>
#include <vector>

#include "aggregator/flush_batch.h"
#include "common/result.h"
#include "sink/block_codec.h"
#include "sink/block_keys.h"
#include "sink/flush_protocol.h"
#include "sink/name_registry.h"
#include "sink/redis_sink.h"

namespace apimeter {

int64_t RetentionSeconds(Tier tier, const SinkOptions& options);
// EXPIREAT of a group's keys: its bucket's end plus its tier's retention.
int64_t GroupExpireAt(const BlockGroup& group, const SinkOptions& options);

// Removes series deltas and slow requests whose bucket ended more than the
// tier's retention before `now_s`; returns how many it removed.
uint64_t DropExpired(int64_t now_s, const SinkOptions& options, FlushBatch* batch);
// Whether DropExpired would drop anything from `batch`.
bool AnyExpired(int64_t now_s, const SinkOptions& options, const FlushBatch& batch);

// Every name the batch needs an id for (ids left 0 for NameRegistry::Assign).
// InvalidArgument when a customer x endpoint name has no separator or a
// customer x endpoint series is not in the day tier.
Result<NameIds> CollectNames(const FlushBatch& batch);

// The blocks of the batch's series; `ids` must hold every name of
// CollectNames(batch). Internal if one is missing; InvalidArgument (naming
// the series) when a series cannot be stored (see BuildBlock).
Result<std::vector<GroupBlock>> EncodeFlushBlocks(const FlushBatch& batch, const NameIds& ids,
                                                  const SinkOptions& options,
                                                  BlockEncoder* encoder);

// The batch's slow requests by day, refused names as "other", latency < 0 skipped.
// Internal when a name is missing from `ids`.
Result<std::vector<SlowDay>> PrepareSlow(const FlushBatch& batch, const NameIds& ids,
                                         const SinkOptions& options);

// The commands that add the slow requests of each day: ZADD of every
// candidate, trim to the slowest `top_n`, EXPIREAT. Repeating them gives the
// same result (fixed members), so a cluster journal may resend them.
void AppendSlowCommands(const std::vector<SlowDay>& days, int64_t top_n, const BlockKeys& keys,
                        std::vector<RedisArgs>* out);

}  // namespace apimeter

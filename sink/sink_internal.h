// Small helpers shared by the sink's translation units (not a public API).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include <string>
#include <string_view>
#include <vector>

#include "aggregator/flush_batch.h"
#include "common/status.h"
#include "common/time_util.h"
#include "common/result.h"
#include "sink/redis_client.h"
#include "sink/schema.h"

namespace apimeter::sink_internal {

// Floor division, so that times before 1970 land in the right bucket.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Epoch seconds at which a bucket ends (exclusive).
constexpr int64_t BucketEnd(Tier tier, int64_t bucket) { return (bucket + 1) * TierSeconds(tier); }

// The UTC day a bucket lies in (a minute or hour never spans two days).
constexpr int64_t DayOfBucket(Tier tier, int64_t bucket) {
  return FloorDiv(bucket * TierSeconds(tier), kSecondsPerDay);
}

constexpr int64_t DayOfMicros(int64_t time_us) {
  return FloorDiv(FloorDiv(time_us, kMicrosPerSecond), kSecondsPerDay);
}

// InvalidArgument when the batch lists the checkpoint of one file twice.
inline Status CheckDistinctCheckpoints(const FlushBatch& batch) {
  for (size_t i = 0; i < batch.checkpoints.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (batch.checkpoints[i].fingerprint == batch.checkpoints[j].fingerprint) {
        return Status::InvalidArgument("flush batch lists the checkpoint of file " +
                                       batch.checkpoints[i].fingerprint + " twice");
      }
    }
  }
  return Status::Ok();
}

// The stored checkpoint of one file ("" when none), under v1's key layout,
// which both schemas share: P:ckpt:<host>:<fingerprint>, or under the
// host's tag {ckpt:<host>} on a ClusterClient.
Result<std::string> ReadCheckpointValue(RedisCommands& client, const KeySchema& schema,
                                        std::string_view host, std::string_view fingerprint);

// Round trip 1 of a flush: WATCH the checkpoint keys, EXISTS the token, MGET
// the checkpoints (WATCH and MGET only when there are checkpoints).
std::vector<RedisArgs> CheckCommands(const std::vector<std::string>& ckpt_keys,
                                     const std::string& token_key);

// Checks the replies of CheckCommands: no error, as many as sent, EXISTS an
// integer and MGET one value per checkpoint. Internal with the reason otherwise.
Status CheckCheckReplies(const std::vector<RedisReply>& replies, size_t checkpoints);

// UNWATCH on `conn`; its failure is returned, not ignored.
Status Unwatch(RedisCommands& conn);

// `failure` after a check round trip that sent WATCH: UNWATCH first, so a
// stale WATCH cannot abort a later transaction on this connection; a failed
// UNWATCH is added to the reason.
Status FailAfterWatch(RedisCommands& conn, const Status& failure);

// Checks the replies of a MULTI ... EXEC pipeline `tx` (MULTI first, EXEC
// last): EXEC nil -> Aborted (nothing written); MULTI, a command refused
// while queuing or EXEC itself an error -> Internal with the reason (nothing
// written); an error inside EXEC's results -> Internal naming the command
// and key (logged; the rest of the transaction was applied).
Status CheckTransaction(const std::vector<RedisReply>& replies, const std::vector<RedisArgs>& tx);

// 128 random bits as 32 hex digits (tokens and writer ids only need to be unique).
std::string RandomToken();

// Compares the MGET reply (checked by CheckCheckReplies) with what the batch
// expects; on a mismatch sends UNWATCH on `conn` and returns Aborted naming
// the key (and UNWATCH's failure, if any).
Status CompareCheckpoints(RedisCommands& conn, const RedisReply& values,
                          const std::vector<std::string>& ckpt_keys, const FlushBatch& batch);

}  // namespace apimeter::sink_internal

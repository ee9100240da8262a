// Sink: what the agent, backfill and the CLI need from a store of
// aggregates, so they do not know which storage schema they write
// (docs/architecture.md "Storage"). RedisSink (v1, sink/redis_sink.h) and
// BlockSink (v2, sink/block_sink.h) implement it; agent/runtime.cpp picks
// one from `redis.schema`.
//
// Promise of every implementation:
// - Flush applies the whole batch and its checkpoints, or nothing of it:
//   kAborted when a stored checkpoint differs from FileCheckpoint::expected
//   (nothing written); kUnavailable when the outcome may be unknown (passing
//   the same batch again is safe, never counted twice); kInvalidArgument for
//   a malformed batch or a Redis holding another storage schema (nothing
//   written); kInternal for an error reply (the message names it).
// - ReadCheckpoint answers the stored checkpoint of a file ("" when none);
//   both schemas keep checkpoints under the same keys. On Redis Cluster it
//   first applies every batch of the host that a dead process committed but
//   did not apply (its journal), so the lines a checkpoint covers are in
//   Redis once the checkpoint is read, even if nothing is flushed after.
// - CheckSchema answers OK only when Redis holds this sink's schema (or no
//   data yet); otherwise kInvalidArgument with what to do (`apimeter
//   migrate`). Flush checks it too before its first write: a sink never
//   writes next to data of another schema.
// - Maintain does bounded background work (v2: compaction of at most
//   `max_groups` groups) and is never needed for correctness; callers run it
//   off the flush's critical path. An error is returned (and the work stays
//   to do), never swallowed. After MarkWritingDone, the open buckets this
//   writer appended to are due too: compaction is safe at any time (flushes
//   only append), so a writer that is done need not leave its deltas.
// Thread-safety: implementations drive one Redis client: one owner at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aggregator/flush_batch.h"
#include "common/result.h"
#include "common/status.h"

namespace apimeter {

// Counters the agent exports and backfill prints; a schema leaves the
// fields it has no use for at 0.
struct SinkStats {
  uint64_t flushes = 0;                 // committed (including found already applied)
  uint64_t failures = 0;                // Flush calls that did not return OK
  uint64_t commands = 0;                // Redis commands sent by Flush
  uint64_t already_applied = 0;         // retries whose token showed an earlier commit
  uint64_t dropped_expired_deltas = 0;  // deltas past their tier's retention
  // v1 Redis Cluster: groups found applied by an earlier attempt, journals finished.
  uint64_t groups_already_applied = 0;
  uint64_t journals_recovered = 0;
  // v2: delta blocks appended, their encoded bytes and series.
  uint64_t blocks = 0;
  uint64_t block_bytes = 0;
  uint64_t series = 0;
  // v2 compaction: groups compacted, CAS lost to another compactor, blocks
  // replaced by bases, Maintain calls that failed; groups waiting (gauge).
  uint64_t compactions = 0;
  uint64_t compaction_lost_races = 0;
  uint64_t blocks_merged = 0;
  uint64_t compaction_failures = 0;
  uint64_t compactions_pending = 0;
  // v2 name registry: script calls, names refused ("other").
  uint64_t registry_calls = 0;
  uint64_t registry_refused = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // The storage schema written: 1 or 2.
  virtual int schema_version() const = 0;
  virtual Status CheckSchema() = 0;
  virtual Result<std::string> ReadCheckpoint(std::string_view host,
                                             std::string_view fingerprint) = 0;
  virtual Status Flush(const FlushBatch& batch) = 0;
  virtual Status Maintain(size_t max_groups) = 0;
  // Says this writer appends no more (a backfill after its last file): from
  // then on Maintain treats every group it wrote as due, open buckets
  // included. A v1 sink has nothing to compact.
  virtual void MarkWritingDone() {}
  virtual SinkStats ExportStats() const = 0;
};

// Retry schedule for FlushWithRetry. Delays double from `initial` up to `max`.
struct RetryPolicy {
  int max_attempts = 0;  // 0 = forever
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10000};
  // Give up once the delays slept add up to more than this; 0 = no limit.
  std::chrono::milliseconds max_total_sleep{0};
};

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(std::chrono::milliseconds duration) = 0;
};

class RealSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds duration) override;
};

// Retries Flush with exponential backoff until OK, a non-retryable status
// (kAborted, kInvalidArgument, kInternal) or the attempt/sleep budget runs
// out; returns the last status. Logs each failure (attempt, error, next delay).
Status FlushWithRetry(Sink& sink, const FlushBatch& batch, const RetryPolicy& policy,
                      Sleeper& sleeper);

}  // namespace apimeter

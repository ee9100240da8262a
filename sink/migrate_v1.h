// MigrateV1ToV2: converts the data of storage schema 1 (a hash per series,
// docs/redis-schema.md) into schema 2 (blocks, docs/storage-v2.md "Schema
// version and migration"); `apimeter migrate` is its command line.
//
// Steps (SCAN is allowed here: this is not a query path):
//   0. On a cluster: v1 flush journals left by a crash are finished.
//   1. P:schema is set to "migrating": every v1 and v2 process refuses this
//      Redis until the end (step 5).
//   2. SCAN the prefix once, keeping only the v1 tags {T<bucket>.<shard>}
//      and the days of the registries (memory: one entry per tag).
//   3. Per UTC day, oldest first: the day's v1 registry sets are renamed
//      aside (P:{reg<day>}:v1e / v1c, atomically, in the same slot) and their
//      names numbered in sorted order by the v2 registry script (no limit:
//      every name v1 admitted keeps being admitted); the renamed sets are
//      then deleted. Then per v1 tag of the day: its series are read (the
//      names come from the tag's own indexes, so no key is looked for
//      blindly), encoded into v2 blocks, and appended to their v2 groups
//      by one script call per v2 tag that also sets the meta field
//      `mig:<v1 tag>`, and does nothing when that field is already set.
//      Then the tag's v1 keys are deleted. The day's touched groups are then
//      compacted (bounded: kCompactChunk groups per round trip).
//   4. A second SCAN checks that no v1 key is left (a key the indexes did
//      not name would be); if one is, the migration fails naming it and
//      P:schema stays "migrating".
//   5. P:schema is set to "2", last.
//
// Promise: idempotent and resumable. A crash (or kill -9) anywhere leaves
// every v1 tag either whole in v1 keys, or whole in v2 blocks, or in both
// with the marker of each v2 part appended; a rerun skips the marked parts,
// appends the others and deletes what is left, so nothing is counted twice
// and nothing is lost. A rerun on migrated data changes nothing. Counts are
// exact: every series rollup, latency max and rejected count of v1 is found
// in the v2 blocks of its bucket (names admitted as in v1; "other" and
// "anonymous" as reserved ids). Series past their tier's retention (by the
// options given) are not written, as a flush would not. Slow-request sets,
// checkpoints, tokens, agent state and alerts keys are the same in both
// schemas and are left as they are.
// On Redis Cluster every master is scanned, each script and DEL stays in one
// slot, and before step 2 the flush journals that v1's cluster flush left
// unfinished (a crash between its commit point and its apply) are finished
// as v1 would finish them, so their lines are migrated too and no v2 writer
// ever replays a v1 journal. Refuses a P:schema other than absent,
// "migrating" or "2".
// Thread-safety: drives the caller's client; run one migration at a time
// (a second one at the same time is safe for the counts but wasteful).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "sink/redis_client.h"
#include "sink/redis_sink.h"

namespace apimeter {

struct MigrateOptions {
  SinkOptions sink;  // retention (expiry) and the slow top N, as the writers'
  size_t scan_count = 1000;
  // Tests: fail (kUnavailable, as a crash would leave it) before the Nth
  // Redis write step, counted from 1; 0 = never.
  uint64_t fail_before_step = 0;
};

struct MigrateProgress {
  uint64_t tags_done = 0;
  uint64_t tags_total = 0;
  int64_t day = 0;  // the UTC day being converted
};
using MigrateProgressFn = std::function<void(const MigrateProgress&)>;

struct MigrateStats {
  bool was_v2 = false;       // P:schema already said 2 (a rerun)
  uint64_t days = 0;         // days whose registry or tags were converted
  uint64_t names = 0;        // v1 registry names numbered
  uint64_t tags = 0;         // v1 tags converted (or finished) in this run
  uint64_t parts_skipped = 0;  // v2 parts found already appended (an earlier run)
  uint64_t series = 0;       // v1 series read
  uint64_t expired = 0;      // series past their tier's retention, not written
  uint64_t blocks = 0;       // v2 blocks appended
  uint64_t block_bytes = 0;
  uint64_t keys_deleted = 0;  // v1 keys deleted
  uint64_t compacted = 0;     // v2 groups compacted after their day
  uint64_t steps = 0;         // Redis write steps (see fail_before_step)
  uint64_t journals_finished = 0;  // v1 cluster flush journals a crash left, applied first
};

Result<MigrateStats> MigrateV1ToV2(RedisCommands& client, const std::string& prefix,
                                   const MigrateOptions& options, const Clock* clock,
                                   const MigrateProgressFn& progress = {});

}  // namespace apimeter

// BlockSink: the storage-v2 write path (docs/storage-v2.md "Writing"). It
// turns a FlushBatch into one delta block per (tier, bucket, shard, kind)
// group and hands them to a FlushProtocol, which commits them with the
// checkpoints and the idempotency token.
//
// Promise (the same as v1's RedisSink::Flush, with blocks):
// - Flush applies the whole batch or nothing of it (see FlushProtocol for
//   the status codes); kUnavailable means the outcome may be unknown, and
//   calling Flush again with the same batch (same id) is safe.
// - The batch id is its idempotency token and must be set
//   (kInvalidArgument otherwise: without it a retry could count twice).
// - Before its first write it makes sure Redis holds schema 2
//   (EnsureStorageSchema); it never writes next to v1 data.
// - Deltas past their tier's retention are dropped (counted); every list
//   expires at its bucket's end plus its tier's retention.
// - Names go through the day's registry (NameRegistry); names not admitted
//   are stored as "other", and deltas that then share a key are summed.
// - After a commit, groups whose list reached kCompactAtLength blocks are
//   remembered (at most kMaxPendingCompactions) for CompactPending, which
//   the caller runs off the flush's critical path. Correctness never
//   depends on it.
// - Closed buckets: every group it appended to is remembered (at most
//   kMaxTrackedGroups; beyond that new groups are counted in
//   untracked_groups and left to other compactors) with the list length its
//   last append answered. Maintain compacts, besides the pending groups,
//   the remembered groups whose bucket closed (bucket end +
//   kCompactAfterCloseS by the injected clock) and whose list held two
//   blocks or more, so a closed bucket ends as one base block per group.
//   After MarkWritingDone every remembered group with 2+ blocks is due,
//   open or closed (a backfill that is done leaves one base per group it
//   wrote, not its deltas; writers still appending add deltas after it).
// - ReadCheckpoint reads v1's checkpoint keys (unchanged in v2; under the
//   host's tag on a ClusterClient).
// Thread-safety: not thread-safe (it drives one client); one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "aggregator/flush_batch.h"
#include "common/clock.h"
#include "sink/block_codec.h"
#include "sink/block_compactor.h"
#include "sink/block_keys.h"
#include "sink/flush_protocol.h"
#include "sink/name_registry.h"
#include "sink/redis_sink.h"
#include "sink/sink.h"

namespace apimeter {

class BlockSink final : public Sink {
 public:
  static constexpr int64_t kCompactAtLength = 8;
  static constexpr size_t kMaxPendingCompactions = 4096;
  // A bucket is closed this long after its end: a grace of 1 min for late
  // lines (a line is counted at its own time, and nginx logs a request when
  // it ends), plus 1 min (docs/storage-v2.md "Compaction").
  static constexpr int64_t kCompactAfterCloseS = 120;
  // Bounds what is remembered for closed-bucket compaction (about 64 bytes
  // each): a backfill of 35 days writes ~15,000 groups.
  static constexpr size_t kMaxTrackedGroups = 65536;

  // `client` is the connection `protocol` drives; both outlive the sink.
  BlockSink(RedisCommands* client, FlushProtocol* protocol, BlockKeys keys, SinkOptions options,
            const Clock* clock);

  int schema_version() const override { return 2; }
  // EnsureStorageSchema over the retained days (sets P:schema on a fresh Redis).
  Status CheckSchema() override;
  Result<std::string> ReadCheckpoint(std::string_view host, std::string_view fingerprint) override;
  Status Flush(const FlushBatch& batch) override;
  // CompactPending, then the remembered groups of closed buckets (oldest
  // first): at most `max_groups` groups in all, in one read and one CAS
  // round trip. A failure leaves them remembered for the next call.
  Status Maintain(size_t max_groups) override;
  void MarkWritingDone() override { writing_done_ = true; }
  SinkStats ExportStats() const override;
  // Remembered groups that are due (bucket closed, or writing done) and hold 2+ blocks.
  size_t closed_to_compact() const;
  size_t tracked_groups() const { return written_.size(); }
  uint64_t untracked_groups() const { return untracked_groups_; }

  // Compacts the groups remembered by Flush (at most `max_groups`); the ones
  // it could not compact because of an error stay remembered.
  Status CompactPending(size_t max_groups = kMaxPendingCompactions);
  size_t pending_compactions() const { return pending_.size(); }

  struct Stats {
    uint64_t flushes = 0;          // committed (including found already applied)
    uint64_t failures = 0;         // Flush calls that did not return OK
    uint64_t commands = 0;         // Redis commands sent by Flush
    uint64_t already_applied = 0;  // retries whose token showed an earlier commit
    uint64_t dropped_expired_deltas = 0;
    uint64_t blocks = 0;       // delta blocks appended
    uint64_t block_bytes = 0;  // their encoded size
    uint64_t series = 0;       // series in them
  };
  const Stats& stats() const { return stats_; }
  const NameRegistry::Stats& registry_stats() const { return registry_.stats(); }
  const BlockCompactor::Stats& compactor_stats() const { return compactor_.stats(); }

 private:
  using GroupKey = std::tuple<Tier, int64_t, uint16_t, BlockKind>;
  struct Written {
    int64_t close_at = 0;  // bucket end + kCompactAfterCloseS
    int64_t length = 0;    // list length answered by this sink's last append
  };

  Status FlushOnce(const FlushBatch& batch);
  void Remember(const PreparedFlush& flush, const CommitReport& report);
  bool Due(const Written& w, int64_t now) const { return writing_done_ || w.close_at <= now; }
  // Compacts `groups` and forgets them on success.
  Status CompactGroups(const std::vector<GroupKey>& groups);

  RedisCommands* client_;
  FlushProtocol* protocol_;
  BlockKeys keys_;
  SinkOptions options_;
  const Clock* clock_;
  NameRegistry registry_;
  BlockEncoder encoder_;
  BlockCompactor compactor_;
  bool schema_checked_ = false;
  // Groups to compact, ordered so the oldest buckets come first.
  std::set<GroupKey> pending_;
  // Groups appended to and not compacted since (closed-bucket compaction).
  std::map<GroupKey, Written> written_;
  uint64_t untracked_groups_ = 0;
  uint64_t compaction_failures_ = 0;
  bool writing_done_ = false;  // MarkWritingDone: every remembered group is due
  Stats stats_;
};

}  // namespace apimeter

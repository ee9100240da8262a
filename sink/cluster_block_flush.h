// ClusterBlockFlush: FlushProtocol on Redis Cluster (docs/storage-v2.md
// "Writing", Redis Cluster). A transaction cannot span slots, so a flush
// goes through the journal protocol of v1's cluster flush (ClusterJournal,
// sink/cluster_journal.h):
//   1. commit point in the host's slot {ckpt:<host>}: the checkpoints
//      (compare-and-set under WATCH), the journal of the encoded commands
//      below, the pending set, the token; EXEC; WAIT 1 where the slot has a
//      replica;
//   2. apply: per (tier, bucket, shard) tag one call of the apply script,
//      which checks and sets meta field w:<writer id> to the batch number
//      and, only when it was lower, RPUSHes the tag's blocks (every kind;
//      EXPIREAT on a list the push created, and on the meta hash); it answers
//      whether it appended and each list's length. The slow-request commands
//      are sent as they are (the same result when repeated). WAIT 1 per
//      master where replicas exist;
//   3. close: delete the journal.
// The script goes by EVALSHA, and as EVAL when a node answers NOSCRIPT
// (outside MULTI, so nothing half-ran). A journal left by a crash is
// finished by FinishCommitted (BlockSink::ReadCheckpoint calls it before a
// host's checkpoint is trusted), by the next flush of the same host in any
// process, or by the retry of the same token.
//
// Promise: FlushProtocol's. A tag's blocks are appended at most once per
// batch (the w: field changes in the same script call as the lists), so a
// retried or recovered batch writes nothing twice; CommitReport::list_lengths
// holds each list's length after the apply. already_applied means the token
// showed the commit point of an earlier attempt; this call then finished its
// journal (appending what the earlier attempt had not). Writer ids are
// random per object: one object per writing process (or thread).
// Thread-safety: drives one ClusterClient; one owner at a time.
#pragma once

#include <cstdint>
#include <string>

#include "sink/block_keys.h"
#include "sink/cluster_client.h"
#include "sink/cluster_journal.h"
#include "sink/flush_protocol.h"

namespace apimeter {

class ClusterBlockFlush final : public FlushProtocol {
 public:
  ClusterBlockFlush(ClusterClient* cluster, BlockKeys keys);

  Result<CommitReport> Commit(const PreparedFlush& flush) override;
  // P:{ckpt:<host>}:<fingerprint>, in the host's slot with the commit point.
  std::string CheckpointKey(std::string_view host, std::string_view fingerprint) const override;
  // Finishes the host's journals left by dead processes (once per host).
  Status FinishCommitted(std::string_view host) override;

  struct Stats {
    uint64_t tags_already_applied = 0;  // apply calls whose w: field showed them applied
    uint64_t journals_recovered = 0;    // journals of earlier batches finished
    uint64_t scripts_sent_whole = 0;    // a node lacked the script (NOSCRIPT): sent as EVAL
  };
  Stats stats() const;

 private:
  // The commands of step 2; where[i] = (command, list position) of block i.
  std::vector<RedisArgs> ApplyCommands(const PreparedFlush& flush, uint64_t seq,
                                       std::vector<std::pair<size_t, size_t>>* where) const;
  // Whether `reply` is a well-formed answer of the apply script to `cmd`,
  // and whether it found the tag applied.
  static ClusterJournal::Verdict CheckApplyReply(const RedisArgs& cmd, const RedisReply& reply);

  BlockKeys keys_;
  ClusterJournal journal_;
  std::string apply_sha_;
};

}  // namespace apimeter

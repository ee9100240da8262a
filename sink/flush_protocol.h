// FlushProtocol: how a prepared storage-v2 flush — encoded blocks, slow
// requests, checkpoints and idempotency token — is committed to Redis
// (docs/storage-v2.md "Writing: one flush protocol, two implementations").
// The sink (BlockSink) builds a PreparedFlush and never asks which
// implementation it has: StandaloneFlush (sink/standalone_flush.h) on one
// redis-server, ClusterBlockFlush (sink/cluster_block_flush.h) on Redis
// Cluster.
//
// Promise of every implementation:
// - exactly once: the blocks are appended, the slow requests added and the
//   checkpoints and token set together or not at all; a checkpoint whose
//   stored value differs from FileCheckpoint::expected aborts the commit
//   (kAborted) with nothing written; a commit retried after an unknown
//   outcome (kUnavailable) with the same token writes nothing twice and
//   reports already_applied;
// - every reply is read: an error reply anywhere fails the commit (kInternal)
//   with the command, the key and Redis's reason;
// - each block is appended at the tail of its group's list, which carries
//   EXPIREAT expire_at from the moment it exists.
// Thread-safety: an implementation drives one client; one owner at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregator/flush_batch.h"
#include "common/result.h"
#include "sink/block.h"

namespace apimeter {

// One encoded delta block and where it goes.
struct GroupBlock {
  BlockGroup group;
  std::string bytes;      // BlockEncoder output
  int64_t expire_at = 0;  // bucket end + the tier's retention
  uint32_t series = 0;    // series in the block (for stats)
};

// The slow-request candidates of one UTC day (names already admitted).
struct SlowDay {
  int64_t day = 0;
  int64_t expire_at = 0;
  std::vector<std::pair<int64_t, std::string>> entries;  // (latency µs, EncodeSlowMember)
};

struct PreparedFlush {
  std::string host;
  std::string token;  // the batch id
  std::vector<GroupBlock> blocks;
  std::vector<SlowDay> slow;
  int64_t slow_top_n = 100;
  std::vector<FileCheckpoint> checkpoints;
  int64_t checkpoint_ttl_s = 400 * 86400;
  int64_t token_ttl_s = 86400;
};

struct CommitReport {
  // The token showed an earlier commit: nothing of the batch is written
  // twice (on a cluster, what that commit's journal still lacked is applied now).
  bool already_applied = false;
  // Length of each group's list after its append, in PreparedFlush::blocks
  // order (empty when already_applied).
  std::vector<int64_t> list_lengths;
};

class FlushProtocol {
 public:
  virtual ~FlushProtocol() = default;
  virtual Result<CommitReport> Commit(const PreparedFlush& flush) = 0;
  // The key Commit stores a file's checkpoint under (on a cluster it moves
  // into the host's slot), so a writer reads it back without asking which
  // implementation it has.
  virtual std::string CheckpointKey(std::string_view host, std::string_view fingerprint) const = 0;
  // Applies what a dead process of `host` committed but did not apply, so
  // the lines a stored checkpoint of the host covers are in Redis before the
  // checkpoint is trusted (even when this process has nothing to flush).
  // Standalone: nothing to do (a commit is one transaction).
  virtual Status FinishCommitted(std::string_view host) {
    (void)host;
    return Status::Ok();
  }
};

}  // namespace apimeter

// ClusterJournal: the exactly-once protocol of a flush on Redis Cluster
// (docs/redis-schema.md "Exactly once across slots"), shared by v1's
// RedisSink and storage v2's ClusterBlockFlush. A transaction cannot span
// slots, so the caller's data commands (each dedupe-guarded, or giving the
// same result when repeated) are
//   1. committed, in the host's slot {ckpt:<host>}: the checkpoints
//      (compare-and-set under WATCH), a journal of the encoded commands, its
//      id in the pending set and the batch token, in one MULTI/EXEC, then
//      WAIT 1 where the slot has a replica (nothing is applied until a
//      replica holds the commit point);
//   2. applied with ClusterClient::PipelineDurable (one pipeline per master,
//      WAIT 1 where replicas exist); every reply is read, and an error reply
//      or one the caller's ReplyCheck refuses fails the flush with the
//      command, its key and the reason (the journal stays). An EVALSHA
//      answered NOSCRIPT is sent again as EVAL of the body registered for
//      its SHA1 (outside MULTI, where that is safe: NOSCRIPT ran nothing);
//   3. closed: the journal is deleted and its id removed from the pending set.
// A journal left by a crash or a failed step 2 is finished by Prepare (this
// writer's own unfinished batch first, then, once per host and process,
// every journal in the host's pending set) or by the retry of the same
// token (step 1 finds the token and finishes the stored journal).
//
// Promise: the commands of a committed batch are applied (each at most once,
// by its guard) before any later batch of this writer; a batch whose commit
// point did not commit applies nothing. Status codes as RedisSink::Flush:
// kAborted (a checkpoint moved; nothing written), kUnavailable (outcome may
// be unknown, or committed but not yet applied: commit the same token again),
// kInternal (an error reply, with its reason).
// Thread-safety: drives one ClusterClient; one owner at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "aggregator/flush_batch.h"
#include "common/result.h"
#include "sink/cluster_client.h"
#include "sink/schema.h"

namespace apimeter {

class ClusterJournal {
 public:
  // The caller's reading of a non-error reply to an applied command.
  struct Verdict {
    std::string problem;   // what is wrong with it ("" if fine)
    bool skipped = false;  // its guard showed it applied by an earlier attempt
  };
  using ReplyCheck = std::function<Verdict(const RedisArgs& cmd, const RedisReply& reply)>;

  ClusterJournal(ClusterClient* cluster, KeySchema schema, ReplyCheck check);

  // A random id of this process's writer, for the data commands' guards.
  const std::string& writer_id() const { return writer_id_; }
  // The batch number for the guards: the same for a retried token, the
  // next one for a new token.
  uint64_t SequenceFor(const std::string& token);
  // Remembers `body` for the NOSCRIPT fallback; returns its SHA1 (hex).
  std::string RegisterScript(const std::string& body);

  // Before a batch of `host`: rechecks replicas, finishes this writer's own
  // unfinished batch, and (once per host) every journal the host left.
  Status Prepare(const std::string& host);
  // Once per host and process: finishes every journal in the host's pending
  // set (batches a dead process committed but did not fully apply). Called
  // before a host's checkpoint is trusted, so that the lines it covers are
  // counted even when this process has nothing of its own to flush.
  Status FinishHostJournals(const std::string& host);

  struct Batch {
    std::string host, token;
    std::vector<std::string> ckpt_keys;  // ClusterCheckpointKey of each checkpoint
    std::vector<FileCheckpoint> checkpoints;
    std::vector<RedisArgs> commands;
    int64_t checkpoint_ttl_s = 0, token_ttl_s = 86400;
    // How long the journal may wait for its host's next writer (the day
    // tier's retention).
    int64_t journal_ttl_s = 0;
  };
  struct Outcome {
    bool already_committed = false;  // the token showed an earlier commit (journal finished now)
    std::vector<RedisReply> replies;  // to batch.commands, when applied by this call
  };
  Result<Outcome> Commit(const Batch& batch);

  struct Stats {
    uint64_t already_committed = 0;
    uint64_t journals_recovered = 0;  // journals of earlier batches finished
    uint64_t scripts_sent_whole = 0;  // EVALSHA answered NOSCRIPT, sent again as EVAL
    uint64_t skipped = 0;             // commands whose guard showed them applied
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Keys {
    std::string token, journal, pending;
  };
  Keys KeysOf(const std::string& host, const std::string& id) const;
  // Step 1 on the host's master; false in *committed when the token was found.
  Status CommitPoint(const Batch& batch, const Keys& keys, bool* already);
  // Steps 2 and 3.
  Status Apply(const std::string& host, const std::string& id,
               const std::vector<RedisArgs>& commands, std::vector<RedisReply>* replies);
  // EVALSHA answered NOSCRIPT: sent again as EVAL.
  Status ResendWithoutScriptCache(const std::vector<RedisArgs>& commands,
                                  std::vector<RedisReply>* replies);
  Status RollForward(const std::string& host, const std::string& id);
  Status RecoverJournals(const std::string& host);

  ClusterClient* cluster_;
  KeySchema schema_;
  ReplyCheck check_;
  std::map<std::string, std::string> scripts_;  // sha1 -> body
  std::unordered_set<std::string> recovered_hosts_;
  std::string writer_id_;
  uint64_t writer_seq_ = 0;
  std::string seq_token_;
  // This writer's batch committed (or maybe committed) but not yet fully
  // applied: finished before any newer batch.
  std::string own_pending_, own_pending_host_;
  Stats stats_;
};

// The SHA1 of a script body, as Redis names it for EVALSHA (40 hex digits).
std::string ScriptSha1(const std::string& body);

}  // namespace apimeter

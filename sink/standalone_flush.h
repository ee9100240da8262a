// StandaloneFlush: FlushProtocol on one redis-server (docs/storage-v2.md
// "Writing", standalone). Two round trips:
//   1. WATCH the checkpoint keys, EXISTS the token, MGET the checkpoints;
//      the token present means an earlier attempt committed (nothing more
//      is written); a checkpoint that differs from what the batch expects
//      aborts with nothing written;
//   2. MULTI, per group block an RPUSH and an EXPIREAT (bucket end + the
//      tier's retention: the same value from every writer), the
//      slow-request commands, SET of the checkpoints and the token, EXEC.
//
// Promise: FlushProtocol's. A list has its expiry from the moment it exists
// (RPUSH and EXPIREAT run inside the same EXEC). A flush costs Redis two
// O(1) commands per group and no script: an append script copied every
// block into Lua and back, and was most of a long EXEC (docs/storage-v2.md
// "Writing").
// Failure modes, as v1's RedisSink::Flush: kAborted (a checkpoint moved or
// a watched key changed; nothing written), kUnavailable (outcome may be
// unknown; commit again with the same token), kInternal (an error reply: the
// message names the command, key and reason. Refused while queuing: nothing
// written. Inside EXEC's results: Redis applied the other commands — only a
// key of the wrong type does this, which the schema marker rules out).
// Redis Cluster needs ClusterBlockFlush: on a ClusterClient this one writes
// nothing (its checks are refused across slots — CROSSSLOT — and the client
// refuses a MULTI block whose keys span slots with kInvalidArgument).
// Thread-safety: drives one client; one owner at a time.
#pragma once

#include "sink/block_keys.h"
#include "sink/flush_protocol.h"
#include "sink/redis_client.h"

namespace apimeter {

class StandaloneFlush final : public FlushProtocol {
 public:
  StandaloneFlush(RedisCommands* client, BlockKeys keys)
      : client_(client), keys_(std::move(keys)) {}

  Result<CommitReport> Commit(const PreparedFlush& flush) override;
  std::string CheckpointKey(std::string_view host, std::string_view fingerprint) const override {
    return keys_.CheckpointKey(host, fingerprint);
  }

 private:
  std::vector<RedisArgs> Transaction(const PreparedFlush& flush,
                                     const std::vector<std::string>& ckpt_keys,
                                     const std::string& token_key) const;
  // The replies of Transaction: EXEC nil -> Aborted; any error -> Internal.
  Result<CommitReport> CheckExec(const PreparedFlush& flush, const std::vector<RedisArgs>& tx,
                                 const std::vector<RedisReply>& replies) const;

  RedisCommands* client_;
  BlockKeys keys_;
};

}  // namespace apimeter

// StandaloneFlush: check round trip, then one MULTI/EXEC (see header).
#include "sink/standalone_flush.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sink/flush_blocks.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

// Transaction commands per group block: RPUSH, then EXPIREAT.
constexpr size_t kCommandsPerBlock = 2;

// The key a transaction command writes (for messages).
std::string KeyOf(const RedisArgs& cmd) {
  return cmd.size() > 1 ? cmd[1] : std::string();
}

}  // namespace

Result<CommitReport> StandaloneFlush::Commit(const PreparedFlush& flush) {
  const std::string token_key = keys_.TokenKey(flush.token);
  std::vector<std::string> ckpt_keys;
  ckpt_keys.reserve(flush.checkpoints.size());
  for (const FileCheckpoint& c : flush.checkpoints) {
    ckpt_keys.push_back(keys_.CheckpointKey(flush.host, c.fingerprint));
  }

  // Round trip 1: WATCH, token, checkpoints.
  auto checked = client_->Pipeline(sink_internal::CheckCommands(ckpt_keys, token_key));
  if (!checked.ok()) return checked.status().WithContext("flush");
  if (Status st = sink_internal::CheckCheckReplies(*checked, ckpt_keys.size()); !st.ok()) {
    return ckpt_keys.empty() ? st : sink_internal::FailAfterWatch(*client_, st);
  }
  if ((*checked)[ckpt_keys.empty() ? 0 : 1].integer == 1) {
    // An earlier attempt committed but its reply was lost.
    if (!ckpt_keys.empty()) APIMETER_RETURN_IF_ERROR(sink_internal::Unwatch(*client_));
    spdlog::info("flush {}: already applied by an earlier attempt; not writing it again",
                 flush.token);
    CommitReport report;
    report.already_applied = true;
    return report;
  }
  if (!ckpt_keys.empty()) {
    FlushBatch expected;  // CompareCheckpoints reads only the checkpoints
    expected.checkpoints = flush.checkpoints;
    APIMETER_RETURN_IF_ERROR(
        sink_internal::CompareCheckpoints(*client_, checked->back(), ckpt_keys, expected));
  }

  // Round trip 2: the transaction.
  const std::vector<RedisArgs> tx = Transaction(flush, ckpt_keys, token_key);
  auto replies = client_->Pipeline(tx);
  if (!replies.ok()) return replies.status().WithContext("flush (outcome unknown)");
  return CheckExec(flush, tx, *replies);
}

std::vector<RedisArgs> StandaloneFlush::Transaction(const PreparedFlush& flush,
                                                    const std::vector<std::string>& ckpt_keys,
                                                    const std::string& token_key) const {
  std::vector<RedisArgs> tx;
  tx.reserve(kCommandsPerBlock * flush.blocks.size() + 3 * flush.slow.size() + ckpt_keys.size() +
             3);
  tx.push_back({"MULTI"});
  // No script: Lua copied each block twice and made an EXEC's appends its
  // longest part (docs/storage-v2.md "Writing"). expire_at is the same for
  // every writer of a group (bucket end + the tier's retention), so setting
  // it on each append changes nothing but keeps a new list from ever
  // existing without it (both run inside EXEC).
  for (const GroupBlock& b : flush.blocks) {
    std::string key = keys_.ListKey(b.group);
    tx.push_back({"RPUSH", key, b.bytes});
    tx.push_back({"EXPIREAT", std::move(key), std::to_string(b.expire_at)});
  }
  AppendSlowCommands(flush.slow, flush.slow_top_n, keys_, &tx);
  for (size_t i = 0; i < ckpt_keys.size(); ++i) {
    tx.push_back({"SET", ckpt_keys[i], flush.checkpoints[i].updated, "EX",
                  std::to_string(flush.checkpoint_ttl_s)});
  }
  tx.push_back({"SET", token_key, "1", "EX", std::to_string(flush.token_ttl_s)});
  tx.push_back({"EXEC"});
  return tx;
}

Result<CommitReport> StandaloneFlush::CheckExec(const PreparedFlush& flush,
                                                const std::vector<RedisArgs>& tx,
                                                const std::vector<RedisReply>& replies) const {
  if (replies.size() != tx.size()) {
    return Status::Internal("flush: " + std::to_string(replies.size()) + " replies to " +
                            std::to_string(tx.size()) + " commands");
  }
  const RedisReply& exec = replies.back();
  if (exec.is_nil()) {
    return Status::Aborted("flush: a watched checkpoint changed before EXEC; nothing written");
  }
  // MULTI, or a command refused while queuing: EXEC then answers EXECABORT
  // and applies nothing (should it run anyway, that command would be missing).
  std::string why = exec.is_error() ? exec.str : std::string();
  for (size_t i = 0; i + 1 < replies.size(); ++i) {
    if (replies[i].is_error()) {
      why += (why.empty() ? "" : "; ") + tx[i][0] + " " + KeyOf(tx[i]) + ": " + replies[i].str;
      break;
    }
  }
  if (!why.empty()) {
    spdlog::error("flush: Redis refused the transaction: {}", why);
    return Status::Internal("flush: Redis refused the transaction: " + why);
  }
  if (exec.type != RedisReply::Type::kArray || exec.elements.size() != tx.size() - 2) {
    return Status::Internal("flush: unexpected EXEC reply (" +
                            std::to_string(exec.elements.size()) + " results for " +
                            std::to_string(tx.size() - 2) + " commands)");
  }
  CommitReport report;
  report.list_lengths.reserve(flush.blocks.size());
  const size_t appends = kCommandsPerBlock * flush.blocks.size();
  size_t errors = 0;
  std::string first;
  for (size_t i = 0; i < exec.elements.size(); ++i) {
    const RedisReply& r = exec.elements[i];
    const RedisArgs& cmd = tx[i + 1];
    std::string problem;
    if (r.is_error()) {
      problem = r.str;
    } else if (i < appends && i % kCommandsPerBlock == 0) {
      if (r.type != RedisReply::Type::kInteger || r.integer < 1) {
        problem = "RPUSH answered no list length";
      }
    } else if (i < appends) {
      if (r.type != RedisReply::Type::kInteger || r.integer != 1) {
        problem = "EXPIREAT found no list to expire";
      }
    } else if (cmd[0] == "SET" && (r.type != RedisReply::Type::kStatus || r.str != "OK")) {
      problem = "SET did not answer OK";
    }
    if (problem.empty()) {
      if (i < appends && i % kCommandsPerBlock == 0) report.list_lengths.push_back(r.integer);
      continue;
    }
    spdlog::error("flush: Redis rejected {} on key '{}' inside EXEC: {}", cmd[0], KeyOf(cmd),
                  problem);
    if (errors++ == 0) first = cmd[0] + " " + KeyOf(cmd) + ": " + problem;
  }
  if (errors > 0) {
    return Status::Internal("flush: " + std::to_string(errors) +
                            " command(s) failed inside EXEC; the rest of the transaction was "
                            "applied. First: " +
                            first);
  }
  return report;
}

}  // namespace apimeter

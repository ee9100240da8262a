// ClusterBlockFlush: journaled commit, one apply call per tag (see header).
#include "sink/cluster_block_flush.h"

#include <map>
#include <tuple>

#include "sink/flush_blocks.h"

namespace apimeter {
namespace {

// KEYS[1] the tag's meta hash, KEYS[2..] its lists; ARGV[1] the writer's
// field w:<id>, ARGV[2] the batch number, ARGV[3] expire-at, ARGV[i+2] the
// block for KEYS[i]. Types are checked before the first write (a failing
// call writes nothing, and the journal sends it again). Answers
// {1 if it appended else 0, length of each list}.
constexpr const char* kApplyScript =
    "local function want(k,t) local g=redis.call('TYPE',k)['ok'] "
    "if g~='none' and g~=t then "
    "return redis.error_reply('WRONGTYPE '..k..' holds a '..g..', not a '..t) end end "
    "local bad=want(KEYS[1],'hash') if bad then return bad end "
    "for i=2,#KEYS do bad=want(KEYS[i],'list') if bad then return bad end end "
    "local out={0} local e=ARGV[3] "
    "if tonumber(redis.call('HGET',KEYS[1],ARGV[1]) or '0')<tonumber(ARGV[2]) then "
    "out[1]=1 redis.call('HSET',KEYS[1],ARGV[1],ARGV[2]) redis.call('EXPIREAT',KEYS[1],e) "
    "for i=2,#KEYS do "
    "if redis.call('RPUSH',KEYS[i],ARGV[i+2])==1 then redis.call('EXPIREAT',KEYS[i],e) end end "
    "end "
    "for i=2,#KEYS do out[i]=redis.call('LLEN',KEYS[i]) end "
    "return out";

bool IsApply(const RedisArgs& cmd) { return cmd[0] == "EVALSHA" || cmd[0] == "EVAL"; }

}  // namespace

ClusterBlockFlush::ClusterBlockFlush(ClusterClient* cluster, BlockKeys keys)
    : keys_(std::move(keys)),
      journal_(cluster, KeySchema(keys_.prefix()), &ClusterBlockFlush::CheckApplyReply),
      apply_sha_(journal_.RegisterScript(kApplyScript)) {}

std::string ClusterBlockFlush::CheckpointKey(std::string_view host,
                                             std::string_view fingerprint) const {
  return KeySchema(keys_.prefix()).ClusterCheckpointKey(host, fingerprint);
}

Status ClusterBlockFlush::FinishCommitted(std::string_view host) {
  return journal_.FinishHostJournals(std::string(host));
}

ClusterBlockFlush::Stats ClusterBlockFlush::stats() const {
  return {journal_.stats().skipped, journal_.stats().journals_recovered,
          journal_.stats().scripts_sent_whole};
}

ClusterJournal::Verdict ClusterBlockFlush::CheckApplyReply(const RedisArgs& cmd,
                                                           const RedisReply& r) {
  if (!IsApply(cmd)) return {};
  const size_t lists = std::stoul(cmd.at(2)) - 1;
  if (r.type != RedisReply::Type::kArray || r.elements.size() != lists + 1) {
    return {"the apply script answered no list lengths"};
  }
  for (const RedisReply& e : r.elements) {
    if (e.type != RedisReply::Type::kInteger) return {"the apply script answered a non-integer"};
  }
  return {"", r.elements[0].integer == 0};
}

std::vector<RedisArgs> ClusterBlockFlush::ApplyCommands(
    const PreparedFlush& flush, uint64_t seq,
    std::vector<std::pair<size_t, size_t>>* where) const {
  // (tier, bucket, shard) -> command; blocks of one tag share an expiry.
  std::map<std::tuple<Tier, int64_t, uint16_t>, size_t> tag_command;
  std::vector<RedisArgs> keys_of, args_of;
  where->resize(flush.blocks.size());
  const std::string field = "w:" + journal_.writer_id();
  for (size_t i = 0; i < flush.blocks.size(); ++i) {
    const GroupBlock& b = flush.blocks[i];
    auto [it, fresh] =
        tag_command.try_emplace({b.group.tier, b.group.bucket, b.group.shard}, keys_of.size());
    if (fresh) {
      keys_of.push_back({keys_.MetaKey(b.group)});
      args_of.push_back({field, std::to_string(seq), std::to_string(b.expire_at)});
    }
    keys_of[it->second].push_back(keys_.ListKey(b.group));
    args_of[it->second].push_back(b.bytes);
    (*where)[i] = {it->second, keys_of[it->second].size() - 1};  // 1-based among the lists
  }
  std::vector<RedisArgs> out;
  out.reserve(keys_of.size() + 3 * flush.slow.size());
  for (size_t t = 0; t < keys_of.size(); ++t) {
    RedisArgs cmd{"EVALSHA", apply_sha_, std::to_string(keys_of[t].size())};
    cmd.reserve(3 + keys_of[t].size() + args_of[t].size());
    cmd.insert(cmd.end(), keys_of[t].begin(), keys_of[t].end());
    cmd.insert(cmd.end(), std::make_move_iterator(args_of[t].begin()),
               std::make_move_iterator(args_of[t].end()));
    out.push_back(std::move(cmd));
  }
  AppendSlowCommands(flush.slow, flush.slow_top_n, keys_, &out);
  return out;
}

Result<CommitReport> ClusterBlockFlush::Commit(const PreparedFlush& flush) {
  APIMETER_RETURN_IF_ERROR(journal_.Prepare(flush.host));
  const uint64_t seq = journal_.SequenceFor(flush.token);
  ClusterJournal::Batch batch;
  batch.host = flush.host;
  batch.token = flush.token;
  std::vector<std::pair<size_t, size_t>> where;
  batch.commands = ApplyCommands(flush, seq, &where);
  for (const FileCheckpoint& c : flush.checkpoints) {
    batch.ckpt_keys.push_back(CheckpointKey(flush.host, c.fingerprint));
  }
  batch.checkpoints = flush.checkpoints;
  batch.checkpoint_ttl_s = flush.checkpoint_ttl_s;
  batch.token_ttl_s = flush.token_ttl_s;
  batch.journal_ttl_s = flush.checkpoint_ttl_s;  // the day tier's retention
  APIMETER_ASSIGN_OR_RETURN(ClusterJournal::Outcome outcome, journal_.Commit(batch));
  CommitReport report;
  if (outcome.already_committed) {
    report.already_applied = true;
    return report;
  }
  if (outcome.replies.size() != batch.commands.size()) {
    return Status::Internal("flush " + flush.token + ": " +
                            std::to_string(outcome.replies.size()) + " replies to " +
                            std::to_string(batch.commands.size()) + " commands");
  }
  report.list_lengths.reserve(flush.blocks.size());
  for (const auto& [command, list] : where) {
    report.list_lengths.push_back(outcome.replies[command].elements.at(list).integer);
  }
  return report;
}

}  // namespace apimeter

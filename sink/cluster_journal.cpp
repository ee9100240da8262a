// ClusterJournal: commit point, apply, close (see header).
#include "sink/cluster_journal.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "sink/cluster_flush.h"
#include "sink/crc16.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

// Whether any reply asks to retry elsewhere or later (nothing was applied).
bool AnyRetriable(ClusterClient& cluster, const std::vector<RedisReply>& replies) {
  bool any = false;
  for (const RedisReply& r : replies) any = cluster.NoteRetriable(r) || any;
  return any;
}

// The key a data command writes, for messages: an EVAL/EVALSHA names its
// first key, others their first argument.
std::string KeyOf(const RedisArgs& cmd) {
  if ((cmd[0] == "EVAL" || cmd[0] == "EVALSHA") && cmd.size() > 3) return cmd[3];
  return cmd.size() > 1 ? cmd[1] : std::string();
}

}  // namespace

std::string ScriptSha1(const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

ClusterJournal::ClusterJournal(ClusterClient* cluster, KeySchema schema, ReplyCheck check)
    : cluster_(cluster),
      schema_(std::move(schema)),
      check_(std::move(check)),
      writer_id_(sink_internal::RandomToken().substr(0, 16)) {}

uint64_t ClusterJournal::SequenceFor(const std::string& token) {
  if (token != seq_token_) {
    seq_token_ = token;
    ++writer_seq_;
  }
  return writer_seq_;
}

std::string ClusterJournal::RegisterScript(const std::string& body) {
  std::string sha = ScriptSha1(body);
  scripts_[sha] = body;
  return sha;
}

ClusterJournal::Keys ClusterJournal::KeysOf(const std::string& host, const std::string& id) const {
  const std::string tag = schema_.HostTag(host);
  return {tag + ":flush:" + id, tag + ":j:" + id, tag + ":journal"};
}

Status ClusterJournal::Prepare(const std::string& host) {
  cluster_->RecheckReplicas();
  // This writer's batches apply in order: finish its own unfinished one first.
  if (!own_pending_.empty()) {
    APIMETER_RETURN_IF_ERROR(RollForward(own_pending_host_, own_pending_));
  }
  return FinishHostJournals(host);
}

Status ClusterJournal::FinishHostJournals(const std::string& host) {
  if (recovered_hosts_.count(host) != 0) return Status::Ok();
  APIMETER_RETURN_IF_ERROR(RecoverJournals(host));
  recovered_hosts_.insert(host);
  return Status::Ok();
}

Result<ClusterJournal::Outcome> ClusterJournal::Commit(const Batch& batch) {
  const Keys keys = KeysOf(batch.host, batch.token);
  Outcome out;
  APIMETER_RETURN_IF_ERROR(CommitPoint(batch, keys, &out.already_committed));
  if (out.already_committed) {
    ++stats_.already_committed;
    spdlog::info("flush {}: committed by an earlier attempt; finishing its journal", batch.token);
    APIMETER_RETURN_IF_ERROR(RollForward(batch.host, batch.token));
    return out;
  }
  APIMETER_RETURN_IF_ERROR(Apply(batch.host, batch.token, batch.commands, &out.replies));
  return out;
}

Status ClusterJournal::CommitPoint(const Batch& batch, const Keys& keys, bool* already) {
  const int slot = HashSlot(keys.token);
  const std::string journal_ttl = std::to_string(batch.journal_ttl_s);
  ClusterClient::Backoff backoff = cluster_->NewBackoff();
  for (;;) {
    auto node = cluster_->NodeForSlot(slot);
    if (!node.ok()) {
      if (backoff.Wait()) continue;
      return node.status().WithContext("flush");
    }
    RedisClient* c = *node;
    const std::vector<std::string>& ckpt_keys = batch.ckpt_keys;
    // Round trip 1 (reads only, safe to repeat): WATCH, token, checkpoints.
    auto checked = c->Pipeline(sink_internal::CheckCommands(ckpt_keys, keys.token));
    if (!checked.ok()) {
      (void)cluster_->RefreshTopology();
      if (backoff.Wait()) continue;
      return checked.status().WithContext("flush");
    }
    if (AnyRetriable(*cluster_, *checked)) {
      APIMETER_RETURN_IF_ERROR(sink_internal::Unwatch(*c));
      if (backoff.Wait()) continue;
      return Status::Unavailable("flush: the host's slot kept moving or was down");
    }
    if (Status st = sink_internal::CheckCheckReplies(*checked, ckpt_keys.size()); !st.ok()) {
      return ckpt_keys.empty() ? st : sink_internal::FailAfterWatch(*c, st);
    }
    if ((*checked)[ckpt_keys.empty() ? 0 : 1].integer == 1) {
      if (!ckpt_keys.empty()) APIMETER_RETURN_IF_ERROR(sink_internal::Unwatch(*c));
      *already = true;
      return Status::Ok();
    }
    if (!ckpt_keys.empty()) {
      FlushBatch expected;  // CompareCheckpoints reads only the checkpoints
      expected.checkpoints = batch.checkpoints;
      APIMETER_RETURN_IF_ERROR(
          sink_internal::CompareCheckpoints(*c, checked->back(), ckpt_keys, expected));
    }
    // Round trip 2: checkpoints + journal + token, atomically in this slot.
    std::vector<RedisArgs> tx{{"MULTI"}};
    for (size_t i = 0; i < ckpt_keys.size(); ++i) {
      tx.push_back({"SET", ckpt_keys[i], batch.checkpoints[i].updated, "EX",
                    std::to_string(batch.checkpoint_ttl_s)});
    }
    if (!batch.commands.empty()) {
      RedisArgs push{"RPUSH", keys.journal};
      for (const RedisArgs& cmd : batch.commands) push.push_back(EncodeJournalCommand(cmd));
      tx.push_back(std::move(push));
      tx.push_back({"EXPIRE", keys.journal, journal_ttl});
      tx.push_back({"SADD", keys.pending, batch.token});
      tx.push_back({"EXPIRE", keys.pending, journal_ttl});
    }
    tx.push_back({"SET", keys.token, "1", "EX", std::to_string(batch.token_ttl_s)});
    tx.push_back({"EXEC"});
    const int replicas = std::min(1, cluster_->ReplicasOfSlot(slot));
    std::vector<RedisArgs> send = tx;
    const std::string wait_ms = std::to_string(cluster_->wait_timeout().count());
    if (replicas > 0) send.push_back({"WAIT", "1", wait_ms});
    // Should the outcome be unknown, the next flush finishes this batch
    // before its own (an empty journal finishes at once): a later batch
    // must never mark a group applied before this one's data reached it.
    own_pending_ = batch.token;
    own_pending_host_ = batch.host;
    auto replies = c->Pipeline(send);
    if (!replies.ok()) return replies.status().WithContext("flush (outcome unknown)");
    RedisReply wait;
    if (replicas > 0) {
      wait = std::move(replies->back());
      replies->pop_back();
    }
    if (replies->back().is_error() && AnyRetriable(*cluster_, *replies)) {
      // EXECABORT because the slot moved while queuing: nothing was applied.
      own_pending_.clear();
      if (backoff.Wait()) continue;
      return Status::Unavailable("flush: the host's slot kept moving");
    }
    if (Status st = sink_internal::CheckTransaction(*replies, tx); !st.ok()) {
      // Refused or aborted: nothing of this transaction was applied.
      if (st.code() == StatusCode::kAborted || replies->back().is_error()) own_pending_.clear();
      return st;
    }
    // The commit point must survive a failover before anything is applied:
    // a commit only the master holds could vanish with it while the applied
    // data (in other slots) stays, and the lines would be read again.
    if (replicas > 0 &&
        (wait.is_error() || wait.type != RedisReply::Type::kInteger || wait.integer < 1)) {
      cluster_->NoteShortWait(c->endpoint().host + ":" + std::to_string(c->endpoint().port), wait);
      return Status::Unavailable(
          "flush " + batch.token + ": committed, but no replica acknowledged it (" +
          cluster_->last_short_wait() +
          "); nothing applied yet (the next attempt finds the commit and applies it, or, if "
          "it was lost in a failover, reads the lines again)");
    }
    return Status::Ok();
  }
}

Status ClusterJournal::Apply(const std::string& host, const std::string& id,
                             const std::vector<RedisArgs>& commands,
                             std::vector<RedisReply>* replies_out) {
  const Keys keys = KeysOf(host, id);
  if (!commands.empty()) {
    const uint64_t unreplicated_before = cluster_->stats().unreplicated;
    auto replies = cluster_->PipelineDurable(commands);
    if (!replies.ok()) {
      return replies.status().WithContext("flush " + id +
                                          ": committed, applying it (it stays journaled and is "
                                          "finished by the next attempt)");
    }
    APIMETER_RETURN_IF_ERROR(ResendWithoutScriptCache(commands, &*replies));
    // Every reply is read: one error fails the flush with its reason (the
    // journal stays, and the next attempt applies what is still missing).
    size_t errors = 0;
    std::string first;
    for (size_t i = 0; i < replies->size(); ++i) {
      const RedisReply& r = (*replies)[i];
      const RedisArgs& cmd = commands[i];
      std::string why = r.is_error() ? r.str : std::string();
      if (!r.is_error()) {
        const Verdict v = check_(cmd, r);
        why = v.problem;
        if (why.empty() && v.skipped) ++stats_.skipped;
      }
      if (why.empty()) continue;
      const std::string key = KeyOf(cmd);
      spdlog::error("flush {}: Redis rejected {} on key '{}': {}", id, cmd[0], key, why);
      if (errors++ == 0) first = cmd[0] + " " + key + ": " + why;
    }
    if (errors > 0) {
      return Status::Internal("flush " + id + ": " + std::to_string(errors) + " of " +
                              std::to_string(commands.size()) +
                              " command(s) failed while applying it (it stays journaled; the "
                              "next attempt applies what is missing). First: " +
                              first);
    }
    if (cluster_->stats().unreplicated != unreplicated_before) {
      // Applied, but a master may hold data no replica has: keep the
      // journal, so that if it is lost in a failover (its guards with it)
      // the next flush's recovery applies it again.
      return Status::Unavailable("flush " + id + ": applied, but not yet acknowledged by a " +
                                 "replica (" + cluster_->last_short_wait() +
                                 "); it stays journaled and is finished by the next attempt");
    }
    if (replies_out != nullptr) *replies_out = std::move(*replies);
  }
  // Close: only now is the batch fully applied. A failure here fails the
  // flush too; the retry finds every guard set and closes it then.
  auto done = cluster_->Pipeline({{"DEL", keys.journal}, {"SREM", keys.pending, id}});
  if (!done.ok()) {
    return done.status().WithContext("flush " + id + ": applied, closing its journal");
  }
  for (const RedisReply& r : *done) {
    if (r.is_error()) {
      return Status::Internal("flush " + id +
                              ": applied, but closing its journal failed: " + r.str);
    }
  }
  if (id == own_pending_) own_pending_.clear();
  return Status::Ok();
}

Status ClusterJournal::ResendWithoutScriptCache(const std::vector<RedisArgs>& commands,
                                                std::vector<RedisReply>* replies) {
  std::vector<size_t> missing;
  std::vector<RedisArgs> evals;
  for (size_t i = 0; i < replies->size(); ++i) {
    const RedisReply& r = (*replies)[i];
    if (!r.is_error() || r.str.rfind("NOSCRIPT", 0) != 0 || commands[i][0] != "EVALSHA") continue;
    auto body = scripts_.find(commands[i].at(1));
    if (body == scripts_.end()) continue;  // reported with NOSCRIPT as its reason
    RedisArgs eval = commands[i];
    eval[0] = "EVAL";
    eval[1] = body->second;
    evals.push_back(std::move(eval));
    missing.push_back(i);
  }
  if (evals.empty()) return Status::Ok();
  stats_.scripts_sent_whole += evals.size();
  auto again = cluster_->PipelineDurable(evals);
  if (!again.ok()) return again.status().WithContext("flush: sending scripts the nodes lacked");
  for (size_t k = 0; k < missing.size(); ++k) (*replies)[missing[k]] = std::move((*again)[k]);
  return Status::Ok();
}

Status ClusterJournal::RollForward(const std::string& host, const std::string& id) {
  const Keys keys = KeysOf(host, id);
  auto list = cluster_->Command({"LRANGE", keys.journal, "0", "-1"});
  if (!list.ok()) return list.status().WithContext("flush journal " + id);
  if (list->is_error()) return Status::Internal("flush journal " + id + ": " + list->str);
  if (list->type != RedisReply::Type::kArray) {
    return Status::Internal("flush journal " + id + ": LRANGE did not answer a list");
  }
  std::vector<RedisArgs> commands;
  for (const RedisReply& e : list->elements) {
    auto cmd = DecodeJournalCommand(e.str);
    if (!cmd.ok()) return cmd.status().WithContext("flush journal " + keys.journal);
    commands.push_back(std::move(*cmd));
  }
  return Apply(host, id, commands, nullptr);
}

Status ClusterJournal::RecoverJournals(const std::string& host) {
  const Keys keys = KeysOf(host, "");
  auto ids = cluster_->Command({"SMEMBERS", keys.pending});
  if (!ids.ok()) return ids.status().WithContext("flush journal recovery");
  if (ids->is_error()) return Status::Internal("flush journal recovery: " + ids->str);
  if (ids->type != RedisReply::Type::kArray) {
    return Status::Internal("flush journal recovery: SMEMBERS did not answer a set");
  }
  for (const RedisReply& id : ids->elements) {
    spdlog::warn(
        "flush {} of host {} was committed but not fully applied (a crash or a node "
        "failure); applying the rest now",
        id.str, host);
    APIMETER_RETURN_IF_ERROR(RollForward(host, id.str));
    ++stats_.journals_recovered;
  }
  return Status::Ok();
}

}  // namespace apimeter

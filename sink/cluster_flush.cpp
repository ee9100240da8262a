// RedisSink in cluster mode (docs/redis-schema.md, "Redis Cluster"): a
// transaction cannot span slots, so a flush
//   1. commits, in the host's slot {ckpt:<host>}, the checkpoints
//      (compare-and-set under WATCH), a journal of every data command of the
//      batch, the journal's id in the pending set and the batch token, in one
//      MULTI/EXEC, then WAITs for a replica;
//   2. applies the journaled commands, one pipeline per master: each group's
//      script call is guarded by a marker (writer id -> last batch sequence
//      number) in its own slot, so it applies at most once however often it
//      is sent; then WAITs for a replica;
//   3. deletes the journal. A journal left by a crash or a failed step 2 is
//      re-applied by the next flush of the same host (RecoverJournals) or by
//      the retry of the same batch (its token is found in step 1).
#include "sink/cluster_flush.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

#include "sink/cluster_client.h"
#include "sink/crc16.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"

namespace apimeter {

std::string EncodeJournalCommand(const RedisArgs& args) {
  std::string out = std::to_string(args.size()) + "\n";
  for (const std::string& a : args) {
    out += std::to_string(a.size());
    out += ':';
    out += a;
  }
  return out;
}

Result<RedisArgs> DecodeJournalCommand(std::string_view text) {
  auto number = [&](char end, size_t* n) {
    const size_t stop = text.find(end);
    if (stop == std::string_view::npos) return false;
    auto [p, ec] = std::from_chars(text.data(), text.data() + stop, *n);
    if (ec != std::errc() || p != text.data() + stop) return false;
    text.remove_prefix(stop + 1);
    return true;
  };
  size_t argc = 0;
  if (!number('\n', &argc) || argc == 0 || argc > text.size()) {
    return Status::ParseError("flush journal: bad command header");
  }
  RedisArgs args;
  args.reserve(argc);
  for (size_t i = 0; i < argc; ++i) {
    size_t len = 0;
    if (!number(':', &len) || len > text.size()) {
      return Status::ParseError("flush journal: bad argument " + std::to_string(i));
    }
    args.emplace_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  if (!text.empty()) return Status::ParseError("flush journal: trailing bytes after a command");
  return args;
}

std::string MarkerKey(std::string_view key) {
  const std::string_view tag = HashTagOf(key);
  // The key up to the end of its hash tag (or the whole key without one).
  const size_t end =
      tag.data() == key.data() ? key.size() : (tag.data() - key.data()) + tag.size() + 1;
  return std::string(key.substr(0, end)) + ":done";
}

std::string MarkerField(std::string_view writer, size_t call) {
  return std::string(writer) + "." + std::to_string(call);
}

RedisArgs GuardEval(const RedisArgs& eval, const std::string& marker, const std::string& field,
                    uint64_t seq) {
  const int numkeys = std::stoi(eval.at(2));
  RedisArgs out;
  out.reserve(eval.size() + 3);
  out.push_back("EVAL");
  // The marker is checked (type included) and set before the body runs, and
  // restored if the body fails, so marker and increments change together.
  out.push_back(
      "local seq=tonumber(table.remove(ARGV)) local w=table.remove(ARGV) "
      "local mk=table.remove(KEYS) "
      "local t=redis.call('TYPE',mk)['ok'] "
      "if t~='none' and t~='hash' then "
      "return redis.error_reply('WRONGTYPE marker '..mk..' holds a '..t..', not a hash') end "
      "local old=redis.call('HGET',mk,w) "
      "if tonumber(old or '0')>=seq then return -1 end "
      "redis.call('HSET',mk,w,seq) redis.call('EXPIREAT',mk,ARGV[1]) "
      "local ok,r=pcall(function() " +
      eval.at(1) +
      " end) "
      "if ok then return r end "
      "if old then redis.call('HSET',mk,w,old) else redis.call('HDEL',mk,w) end "
      "if type(r)=='table' then return r end return redis.error_reply(tostring(r))");
  out.push_back(std::to_string(numkeys + 1));
  out.insert(out.end(), eval.begin() + 3, eval.begin() + 3 + numkeys);
  out.push_back(marker);
  out.insert(out.end(), eval.begin() + 3 + numkeys, eval.end());
  out.push_back(field);
  out.push_back(std::to_string(seq));
  return out;
}

namespace {

struct HostKeys {
  std::string token, journal, pending;
};

HostKeys KeysOf(const KeySchema& schema, const std::string& host, const std::string& id) {
  const std::string tag = schema.HostTag(host);
  return {tag + ":flush:" + id, tag + ":j:" + id, tag + ":journal"};
}

// Whether any reply asks to retry elsewhere or later (nothing was applied).
bool AnyRetriable(ClusterClient& cluster, const std::vector<RedisReply>& replies) {
  bool any = false;
  for (const RedisReply& r : replies) any = cluster.NoteRetriable(r) || any;
  return any;
}

}  // namespace

Status RedisSink::FlushCluster(ClusterClient& cluster, const FlushBatch& input,
                               const std::string& token) {
  APIMETER_RETURN_IF_ERROR(sink_internal::CheckDistinctCheckpoints(input));
  cluster.RecheckReplicas();
  // This writer's batches apply in order: finish its own unfinished one first.
  if (!own_pending_.empty()) {
    APIMETER_RETURN_IF_ERROR(RollForward(cluster, own_pending_host_, own_pending_));
  }
  if (recovered_hosts_.count(input.host) == 0) {
    APIMETER_RETURN_IF_ERROR(RecoverJournals(cluster, input.host));
    recovered_hosts_.insert(input.host);
  }
  if (token != seq_token_) {
    seq_token_ = token;
    ++writer_seq_;
  }
  FlushBatch batch = DropExpired(input);
  APIMETER_RETURN_IF_ERROR(Admit(&batch));

  std::vector<RedisArgs> data;
  AppendSeries(batch, /*check_types=*/true, &data);
  AppendSlow(batch, &data);
  // Series scripts add (not idempotent): guarded, each call of a group by
  // a marker field of its own (a big group takes several calls: with one
  // field for all, the first call's mark made the others look applied, and
  // they were skipped). Slow-request ZADD, trim and EXPIREAT give the same
  // result when repeated: sent as they are.
  std::map<std::string, size_t> calls;  // marker -> calls of this batch to its group
  for (RedisArgs& cmd : data) {
    if (cmd[0] != "EVAL") continue;
    std::string marker = MarkerKey(cmd[3]);
    const size_t call = calls[marker]++;
    cmd = GuardEval(cmd, marker, MarkerField(writer_id_, call), writer_seq_);
  }

  const HostKeys hk = KeysOf(schema_, batch.host, token);
  std::vector<std::string> ckpt_keys;
  for (const FileCheckpoint& c : batch.checkpoints) {
    ckpt_keys.push_back(schema_.ClusterCheckpointKey(batch.host, c.fingerprint));
  }
  const int slot = HashSlot(hk.token);
  const std::string ttl = std::to_string(options_.token_ttl_s);
  // A journal may wait for its host's next writer: kept as long as the data.
  const std::string journal_ttl = std::to_string(options_.day_retention_s);
  ClusterClient::Backoff backoff = cluster.NewBackoff();
  for (;;) {
    auto node = cluster.NodeForSlot(slot);
    if (!node.ok()) {
      if (backoff.Wait()) continue;
      return node.status().WithContext("flush");
    }
    RedisClient* c = *node;
    // Round trip 1 (reads only, safe to repeat): WATCH, token, checkpoints.
    auto checked = c->Pipeline(sink_internal::CheckCommands(ckpt_keys, hk.token));
    if (!checked.ok()) {
      (void)cluster.RefreshTopology();
      if (backoff.Wait()) continue;
      return checked.status().WithContext("flush");
    }
    if (AnyRetriable(cluster, *checked)) {
      APIMETER_RETURN_IF_ERROR(sink_internal::Unwatch(*c));
      if (backoff.Wait()) continue;
      return Status::Unavailable("flush: the host's slot kept moving or was down");
    }
    if (Status st = sink_internal::CheckCheckReplies(*checked, ckpt_keys.size()); !st.ok()) {
      return ckpt_keys.empty() ? st : sink_internal::FailAfterWatch(*c, st);
    }
    if ((*checked)[ckpt_keys.empty() ? 0 : 1].integer == 1) {
      if (!ckpt_keys.empty()) APIMETER_RETURN_IF_ERROR(sink_internal::Unwatch(*c));
      ++stats_.already_applied;
      spdlog::info("flush {}: committed by an earlier attempt; finishing its journal", token);
      return RollForward(cluster, batch.host, token);
    }
    if (!ckpt_keys.empty()) {
      APIMETER_RETURN_IF_ERROR(
          sink_internal::CompareCheckpoints(*c, checked->back(), ckpt_keys, batch));
    }
    // Round trip 2: checkpoints + journal + token, atomically in this slot.
    std::vector<RedisArgs> tx{{"MULTI"}};
    for (size_t i = 0; i < ckpt_keys.size(); ++i) {
      tx.push_back({"SET", ckpt_keys[i], batch.checkpoints[i].updated, "EX",
                    std::to_string(options_.day_retention_s)});
    }
    if (!data.empty()) {
      RedisArgs push{"RPUSH", hk.journal};
      for (const RedisArgs& cmd : data) push.push_back(EncodeJournalCommand(cmd));
      tx.push_back(std::move(push));
      tx.push_back({"EXPIRE", hk.journal, journal_ttl});
      tx.push_back({"SADD", hk.pending, token});
      tx.push_back({"EXPIRE", hk.pending, journal_ttl});
    }
    tx.push_back({"SET", hk.token, "1", "EX", ttl});
    tx.push_back({"EXEC"});
    const int replicas = std::min(1, cluster.ReplicasOfSlot(slot));
    std::vector<RedisArgs> send = tx;
    const std::string wait_ms = std::to_string(cluster.wait_timeout().count());
    if (replicas > 0) send.push_back({"WAIT", "1", wait_ms});
    auto replies = c->Pipeline(send);
    if (!replies.ok()) return replies.status().WithContext("flush (outcome unknown)");
    RedisReply wait;
    if (replicas > 0) {
      wait = std::move(replies->back());
      replies->pop_back();
    }
    if (replies->back().is_error() && AnyRetriable(cluster, *replies)) {
      // EXECABORT because the slot moved while queuing: nothing was applied.
      if (backoff.Wait()) continue;
      return Status::Unavailable("flush: the host's slot kept moving");
    }
    APIMETER_RETURN_IF_ERROR(CheckExec(*replies, tx));
    // The commit point must survive a failover before anything is applied:
    // a commit only the master holds could vanish with it while the applied
    // increments (in other slots) stay, and the lines would be read again.
    if (replicas > 0 &&
        (wait.is_error() || wait.type != RedisReply::Type::kInteger || wait.integer < 1)) {
      own_pending_ = token;  // the next flush rolls it forward if it is still there
      own_pending_host_ = batch.host;
      cluster.NoteShortWait(c->endpoint().host + ":" + std::to_string(c->endpoint().port), wait);
      return Status::Unavailable(
          "flush " + token + ": committed, but no replica acknowledged it (" +
          cluster.last_short_wait() +
          "); nothing applied yet (the next attempt finds the commit and applies it, or, if "
          "it was lost in a failover, reads the lines again)");
    }
    break;
  }
  own_pending_ = token;
  own_pending_host_ = batch.host;
  return ApplyJournal(cluster, batch.host, token, data);
}

Status RedisSink::ApplyJournal(ClusterClient& cluster, const std::string& host,
                               const std::string& id, const std::vector<RedisArgs>& commands) {
  const HostKeys hk = KeysOf(schema_, host, id);
  if (!commands.empty()) {
    const uint64_t unreplicated_before = cluster.stats().unreplicated;
    auto replies = cluster.PipelineDurable(commands);
    if (!replies.ok()) {
      return replies.status().WithContext("flush " + id +
                                          ": committed, applying it (it stays journaled and is "
                                          "finished by the next attempt)");
    }
    // Every reply is read: one error fails the flush with its reason (the
    // journal stays, and the next attempt applies what is still missing).
    size_t errors = 0;
    std::string first;
    for (size_t i = 0; i < replies->size(); ++i) {
      const RedisReply& r = (*replies)[i];
      const RedisArgs& cmd = commands[i];
      const bool series = cmd[0] == "EVAL";
      if (!r.is_error() && (!series || r.type == RedisReply::Type::kInteger)) {
        if (series && r.integer == -1) ++stats_.groups_already_applied;
        continue;
      }
      // A series call names its group's max key (the first key), others their key.
      const std::string key = series ? cmd.at(3) : cmd.size() > 1 ? cmd[1] : "";
      const std::string why = r.is_error() ? r.str : "unexpected reply to a series script";
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
    if (cluster.stats().unreplicated != unreplicated_before) {
      // Applied, but a master may hold increments no replica has: keep the
      // journal, so that if they are lost in a failover (their markers with
      // them) the next flush's recovery applies them again.
      return Status::Unavailable("flush " + id + ": applied, but not yet acknowledged by a " +
                                 "replica (" + cluster.last_short_wait() +
                                 "); it stays journaled and is finished by the next attempt");
    }
  }
  // Close: only now is the batch fully applied. A failure here fails the
  // flush too; the retry finds every marker set and closes it then.
  auto done = cluster.Pipeline({{"DEL", hk.journal}, {"SREM", hk.pending, id}});
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

Status RedisSink::RollForward(ClusterClient& cluster, const std::string& host,
                              const std::string& id) {
  const HostKeys hk = KeysOf(schema_, host, id);
  auto list = cluster.Command({"LRANGE", hk.journal, "0", "-1"});
  if (!list.ok()) return list.status().WithContext("flush journal " + id);
  if (list->is_error()) return Status::Internal("flush journal " + id + ": " + list->str);
  if (list->type != RedisReply::Type::kArray) {
    return Status::Internal("flush journal " + id + ": LRANGE did not answer a list");
  }
  std::vector<RedisArgs> commands;
  for (const RedisReply& e : list->elements) {
    auto cmd = DecodeJournalCommand(e.str);
    if (!cmd.ok()) return cmd.status().WithContext("flush journal " + hk.journal);
    commands.push_back(std::move(*cmd));
  }
  return ApplyJournal(cluster, host, id, commands);
}

Status RedisSink::RecoverJournals(ClusterClient& cluster, const std::string& host) {
  const HostKeys hk = KeysOf(schema_, host, "");
  auto ids = cluster.Command({"SMEMBERS", hk.pending});
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
    APIMETER_RETURN_IF_ERROR(RollForward(cluster, host, id.str));
    ++stats_.journals_recovered;
  }
  return Status::Ok();
}

}  // namespace apimeter

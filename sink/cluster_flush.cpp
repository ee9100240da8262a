// RedisSink in cluster mode (docs/redis-schema.md, "Redis Cluster"): the
// series scripts of a batch, each wrapped in a dedupe guard (a marker field
// of this writer in the group's own slot, so a call applies at most once
// however often it is sent), and the slow-request commands (the same result
// when repeated) go through ClusterJournal (sink/cluster_journal.h): commit
// point with the checkpoints and a journal in the host's slot, apply, close.
// Also the journal's command encoding and the guard (sink/cluster_flush.h).
#include "sink/cluster_flush.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

#include "sink/cluster_client.h"
#include "sink/cluster_journal.h"
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

ClusterJournal::ReplyCheck V1SeriesReplyCheck() {
  return [](const RedisArgs& cmd, const RedisReply& r) -> ClusterJournal::Verdict {
    if (cmd[0] != "EVAL") return {};
    if (r.type != RedisReply::Type::kInteger) return {"unexpected reply to a series script"};
    return {"", r.integer == -1};
  };
}

RedisSink::~RedisSink() = default;

Status RedisSink::FlushCluster(ClusterClient& cluster, const FlushBatch& input,
                               const std::string& token) {
  APIMETER_RETURN_IF_ERROR(sink_internal::CheckDistinctCheckpoints(input));
  if (!journal_) {
    // A guarded series call answers the number of series it wrote, or -1
    // when its marker showed it applied.
    journal_ = std::make_unique<ClusterJournal>(&cluster, schema_, V1SeriesReplyCheck());
  }
  const ClusterJournal::Stats before = journal_->stats();
  Status st = FlushJournaled(input, token);
  stats_.already_applied += journal_->stats().already_committed - before.already_committed;
  stats_.journals_recovered += journal_->stats().journals_recovered - before.journals_recovered;
  stats_.groups_already_applied += journal_->stats().skipped - before.skipped;
  return st;
}

Status RedisSink::FlushJournaled(const FlushBatch& input, const std::string& token) {
  APIMETER_RETURN_IF_ERROR(journal_->Prepare(input.host));
  const uint64_t seq = journal_->SequenceFor(token);
  FlushBatch batch = DropExpired(input);
  APIMETER_RETURN_IF_ERROR(Admit(&batch));

  ClusterJournal::Batch jb;
  jb.host = batch.host;
  jb.token = token;
  AppendSeries(batch, /*check_types=*/true, &jb.commands);
  AppendSlow(batch, &jb.commands);
  // Series scripts add (not idempotent): guarded, each call of a group by
  // a marker field of its own (a big group takes several calls: with one
  // field for all, the first call's mark made the others look applied, and
  // they were skipped). Slow-request ZADD, trim and EXPIREAT give the same
  // result when repeated: sent as they are.
  std::map<std::string, size_t> calls;  // marker -> calls of this batch to its group
  for (RedisArgs& cmd : jb.commands) {
    if (cmd[0] != "EVAL") continue;
    std::string marker = MarkerKey(cmd[3]);
    const size_t call = calls[marker]++;
    cmd = GuardEval(cmd, marker, MarkerField(journal_->writer_id(), call), seq);
  }
  for (const FileCheckpoint& c : batch.checkpoints) {
    jb.ckpt_keys.push_back(schema_.ClusterCheckpointKey(batch.host, c.fingerprint));
  }
  jb.checkpoints = batch.checkpoints;
  jb.checkpoint_ttl_s = options_.day_retention_s;
  jb.token_ttl_s = options_.token_ttl_s;
  // A journal may wait for its host's next writer: kept as long as the data.
  jb.journal_ttl_s = options_.day_retention_s;
  auto outcome = journal_->Commit(jb);
  return outcome.ok() ? Status::Ok() : outcome.status();
}

}  // namespace apimeter

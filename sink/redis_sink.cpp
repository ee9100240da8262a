// RedisSink::Flush: retention, admission, then one checked MULTI/EXEC
// (docs/redis-schema.md, "Checkpoints" and "Write path cost").
#include "sink/redis_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <thread>
#include <tuple>

#include "sink/cluster_flush.h"
#include "sink/cluster_journal.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

using sink_internal::BucketEnd;
using sink_internal::DayOfMicros;

// One call per (tier, bucket, shard) group of series (at most
// kSeriesPerEval): all HINCRBYs of each series hash, its max, its index
// entries, and EXPIREAT on each key. Sent as EVAL (full body) inside MULTI:
// an EVALSHA hitting NOSCRIPT inside EXEC would apply the transaction
// partially. Every key of a group carries the same hash tag
// {<T><bucket>.<shard>}, so one script call is valid in Redis Cluster too.
// KEYS[1] the shard's max zset, then per series: its hash, its index zsets.
// ARGV[1] expire-at, then per series: member id, max latency (-1: none),
//   field count F, index count I, F (field, increment), I (member, increment).
constexpr const char* kSeriesScript =
    "local e=ARGV[1] local a=2 local k=2 "
    "while a<=#ARGV do "
    "local m,mx,nf,ni=ARGV[a],ARGV[a+1],tonumber(ARGV[a+2]),tonumber(ARGV[a+3]) a=a+4 "
    "local h=KEYS[k] k=k+1 "
    "for _=1,nf do redis.call('HINCRBY',h,ARGV[a],ARGV[a+1]) a=a+2 end "
    "redis.call('EXPIREAT',h,e) "
    "if tonumber(mx)>=0 then redis.call('ZADD',KEYS[1],'GT',mx,m) end "
    "for _=1,ni do redis.call('ZINCRBY',KEYS[k],ARGV[a+1],ARGV[a]) "
    "redis.call('EXPIREAT',KEYS[k],e) k=k+1 a=a+2 end end "
    "redis.call('EXPIREAT',KEYS[1],e) return k-2";

// Put before kSeriesScript in cluster mode: checks the type of every key
// before the first write, so a key of the wrong type fails the call with
// nothing of it written. Redis never rolls a script back, and a cluster
// retries a failed call (from the journal): a call applied halfway would
// count its first half twice once the key is fixed. Standalone mode does
// not retry it (the EXEC that held it committed its checkpoints and token),
// so it skips the check and its cost (~15% more script time; TYPE per key).
constexpr const char* kSeriesTypeCheck =
    "local function want(key,t) local g=redis.call('TYPE',key)['ok'] "
    "if g~='none' and g~=t then "
    "error({err='WRONGTYPE '..key..' holds a '..g..', not a '..t}) end end "
    "want(KEYS[1],'zset') local a=2 local k=2 "
    "while a<=#ARGV do "
    "local nf,ni=tonumber(ARGV[a+2]),tonumber(ARGV[a+3]) a=a+4+2*nf+2*ni "
    "want(KEYS[k],'hash') k=k+1 "
    "for _=1,ni do want(KEYS[k],'zset') k=k+1 end end ";

// Bounds one script call (and so how long Redis is busy with it).
constexpr size_t kSeriesPerEval = 200;

struct IndexEntry {
  std::string key, member;
  uint64_t increment;
};

// The per-bucket index entries that point at one series (docs: "Per-bucket indexes").
std::vector<IndexEntry> IndexEntries(const KeySchema& schema, const SeriesDelta& d) {
  std::vector<IndexEntry> out;
  const int shard = KeySchema::ShardOf(d.kind, d.name);
  const uint64_t n = d.rollup.requests;
  switch (d.kind) {
    case SeriesKind::kAll:
      break;
    case SeriesKind::kHost:
      out.push_back({schema.IndexKey(d.tier, d.bucket, shard, IndexKind::kHosts), d.name, n});
      break;
    case SeriesKind::kEndpoint:
      out.push_back({schema.IndexKey(d.tier, d.bucket, shard, IndexKind::kEndpoints), d.name, n});
      break;
    case SeriesKind::kCustomer:
      out.push_back({schema.IndexKey(d.tier, d.bucket, shard, IndexKind::kCustomers), d.name, n});
      out.push_back({schema.IndexKey(d.tier, d.bucket, shard, IndexKind::kCustomerBytesOut), d.name,
                     d.rollup.bytes_out});
      break;
    case SeriesKind::kClient:
    case SeriesKind::kClientEndpoint:
    case SeriesKind::kCustomerClient:
      break;  // not stored by v1 (DropExpired leaves them out)
    case SeriesKind::kCustomerEndpoint: {
      const size_t sep = d.name.find(kNameSeparator);
      out.push_back({schema.CustomerEndpointIndexKey(d.tier, d.bucket, d.name.substr(0, sep)),
                     d.name.substr(sep + 1), n});
      break;
    }
  }
  // A zero increment would only create an empty-looking member.
  std::erase_if(out, [](const IndexEntry& e) { return e.increment == 0; });
  return out;
}

// Adds one series delta to a group's EVAL command (keys and args kept
// apart until the command is finished). Returns false when there is nothing to write.
bool AppendSeriesArgs(const KeySchema& schema, const SeriesDelta& d, std::vector<std::string>* keys,
                      std::vector<std::string>* args) {
  auto fields = EncodeRollupFields(d.rollup);
  if (fields.empty() && d.rollup.latency_max_us < 0) return false;
  const std::vector<IndexEntry> index = IndexEntries(schema, d);
  keys->push_back(schema.SeriesKey(d.tier, d.bucket, d.kind, d.name));
  for (const IndexEntry& e : index) keys->push_back(e.key);
  args->push_back(KeySchema::MemberId(d.kind, d.name));
  args->push_back(std::to_string(d.rollup.latency_max_us));
  args->push_back(std::to_string(fields.size()));
  args->push_back(std::to_string(index.size()));
  for (auto& [field, value] : fields) {
    args->push_back(std::move(field));
    args->push_back(std::to_string(value));
  }
  for (const IndexEntry& e : index) {
    args->push_back(e.member);
    args->push_back(std::to_string(e.increment));
  }
  return true;
}

}  // namespace

std::string sink_internal::RandomToken() {
  // 128 bits from the OS entropy source; tokens only need to be unique.
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j) {
      t += kHex[v & 0xf];
      v >>= 4;
    }
  }
  return t;
}

namespace {

class Fnv64 {
 public:
  void Add(std::string_view s) {
    for (unsigned char c : s) Byte(c);
    Byte(0xff);  // terminator, so ("ab","c") and ("a","bc") differ
  }
  void Add(int64_t v) { Add(std::to_string(v)); }
  uint64_t value() const { return h_; }

 private:
  void Byte(unsigned char c) {
    h_ ^= c;
    h_ *= 1099511628211ull;
  }
  uint64_t h_ = 14695981039346656037ull;
};

uint64_t ContentHash(const FlushBatch& b) {
  Fnv64 h;
  h.Add(b.host);
  for (const SeriesDelta& d : b.series) {
    h.Add(static_cast<int64_t>(d.tier));
    h.Add(d.bucket);
    h.Add(static_cast<int64_t>(d.kind));
    h.Add(d.name);
    h.Add(d.rollup.latency_max_us);
    for (const auto& [f, v] : EncodeRollupFields(d.rollup)) {
      h.Add(f);
      h.Add(v);
    }
  }
  for (const SlowRequest& s : b.slow) {
    h.Add(EncodeSlowMember(s));
    h.Add(s.latency_us);
  }
  for (const FileCheckpoint& c : b.checkpoints) {
    h.Add(c.fingerprint);
    h.Add(c.expected);
    h.Add(c.updated);
  }
  return h.value();
}

}  // namespace

RedisSink::RedisSink(RedisCommands* client, KeySchema schema, SinkOptions options,
                     const Clock* clock)
    : client_(client),
      schema_(std::move(schema)),
      options_(options),
      clock_(clock) {}

int64_t RedisSink::RetentionSeconds(Tier tier) const {
  switch (tier) {
    case Tier::kMinute:
      return options_.minute_retention_s;
    case Tier::kHour:
      return options_.hour_retention_s;
    case Tier::kDay:
      return options_.day_retention_s;
  }
  return 0;
}

Result<std::string> RedisSink::ReadCheckpoint(std::string_view host, std::string_view fingerprint) {
  if (ClusterClient* cluster = client_->AsCluster(); cluster != nullptr) {
    // A dead process may have moved this checkpoint and left its data
    // journaled: apply that first.
    if (!journal_) journal_ = std::make_unique<ClusterJournal>(cluster, schema_, V1SeriesReplyCheck());
    const ClusterJournal::Stats before = journal_->stats();
    Status st = journal_->FinishHostJournals(std::string(host));
    stats_.journals_recovered += journal_->stats().journals_recovered - before.journals_recovered;
    stats_.groups_already_applied += journal_->stats().skipped - before.skipped;
    APIMETER_RETURN_IF_ERROR(st);
  }
  return sink_internal::ReadCheckpointValue(*client_, schema_, host, fingerprint);
}

FlushBatch RedisSink::DropExpired(const FlushBatch& batch) {
  const int64_t now = clock_->NowSeconds();
  FlushBatch out;
  out.id = batch.id;
  out.host = batch.host;
  out.checkpoints = batch.checkpoints;
  out.lines = batch.lines;
  out.series.reserve(batch.series.size());
  for (const SeriesDelta& d : batch.series) {
    // Storage v1 keeps no client series (issue 18 part 2 is v2 only): they
    // are left out here, before admission and keys, so a v1 flush never fails on them.
    if (IsClientKind(d.kind)) continue;
    if (BucketEnd(d.tier, d.bucket) + RetentionSeconds(d.tier) <= now) {
      ++stats_.dropped_expired_deltas;
    } else {
      out.series.push_back(d);
    }
  }
  for (const SlowRequest& s : batch.slow) {
    if (BucketEnd(Tier::kDay, DayOfMicros(s.time_us)) + options_.day_retention_s <= now) {
      ++stats_.dropped_expired_deltas;
    } else {
      out.slow.push_back(s);
    }
  }
  return out;
}

std::string RedisSink::TokenFor(const FlushBatch& batch) {
  if (!batch.id.empty()) return batch.id;
  const uint64_t hash = ContentHash(batch);
  if (pending_token_.empty() || pending_hash_ != hash) {
    pending_hash_ = hash;
    pending_token_ = sink_internal::RandomToken();
  }
  return pending_token_;
}

Status RedisSink::CheckSchema() {
  const std::string key = schema_.SchemaKey();
  auto r = client_->Command({"GET", key});
  if (!r.ok()) return r.status().WithContext("schema check");
  if (r->is_error()) return Status::Internal("schema check: GET " + key + ": " + r->str);
  if (r->is_nil()) return Status::Ok();
  return Status::InvalidArgument(
      key + " holds '" + r->str + "': this Redis holds storage schema 2 (or a migration to it) " +
      "under prefix '" + schema_.prefix() + "', and this process is configured with " +
      "redis.schema: 1; set redis.schema: 2 (and finish `apimeter migrate` if it was " +
      "interrupted), or use another redis.prefix");
}

SinkStats RedisSink::ExportStats() const {
  SinkStats s;
  s.flushes = stats_.flushes;
  s.failures = stats_.failures;
  s.commands = stats_.commands;
  s.already_applied = stats_.already_applied;
  s.dropped_expired_deltas = stats_.dropped_expired_deltas;
  s.groups_already_applied = stats_.groups_already_applied;
  s.journals_recovered = stats_.journals_recovered;
  return s;
}

Status RedisSink::Flush(const FlushBatch& batch) {
  const uint64_t sent_before = client_->commands_sent();
  Status st;
  if (!schema_checked_) {
    st = CheckSchema();
    schema_checked_ = st.ok();
  }
  const std::string token = TokenFor(batch);
  ClusterClient* cluster = client_->AsCluster();
  if (st.ok()) {
    st = cluster != nullptr ? FlushCluster(*cluster, batch, token) : FlushOnce(batch, token);
  }
  stats_.commands += client_->commands_sent() - sent_before;
  if (st.ok()) {
    ++stats_.flushes;
  } else {
    ++stats_.failures;
  }
  // Only an unknown outcome needs the same token next time.
  if (st.code() != StatusCode::kUnavailable) pending_token_.clear();
  return st;
}

Status RedisSink::FlushOnce(const FlushBatch& input, const std::string& token) {
  APIMETER_RETURN_IF_ERROR(sink_internal::CheckDistinctCheckpoints(input));
  FlushBatch batch = DropExpired(input);
  APIMETER_RETURN_IF_ERROR(Admit(&batch));

  // Round trip 1: WATCH the checkpoints, ask whether this batch already
  // committed (its token), and read the checkpoints to compare.
  const std::string token_key = schema_.prefix() + ":flush:" + token;
  std::vector<std::string> ckpt_keys;
  for (const FileCheckpoint& c : batch.checkpoints) {
    ckpt_keys.push_back(schema_.CheckpointKey(batch.host, c.fingerprint));
  }
  auto checked = client_->Pipeline(sink_internal::CheckCommands(ckpt_keys, token_key));
  if (!checked.ok()) return checked.status().WithContext("flush");
  if (Status st = sink_internal::CheckCheckReplies(*checked, ckpt_keys.size()); !st.ok()) {
    return ckpt_keys.empty() ? st : sink_internal::FailAfterWatch(*client_, st);
  }
  const RedisReply& exists = (*checked)[ckpt_keys.empty() ? 0 : 1];
  if (exists.integer == 1) {
    // An earlier attempt committed but its reply was lost.
    if (!ckpt_keys.empty()) APIMETER_RETURN_IF_ERROR(sink_internal::Unwatch(*client_));
    ++stats_.already_applied;
    spdlog::info("flush {}: already applied by an earlier attempt; not writing it again", token);
    return Status::Ok();
  }
  if (!ckpt_keys.empty()) {
    APIMETER_RETURN_IF_ERROR(
        sink_internal::CompareCheckpoints(*client_, checked->back(), ckpt_keys, batch));
  }

  // Round trip 2: the whole transaction in one pipeline.
  std::vector<RedisArgs> tx;
  tx.reserve(batch.series.size() + batch.checkpoints.size() + 8);
  tx.push_back({"MULTI"});
  AppendSeries(batch, /*check_types=*/false, &tx);
  AppendSlow(batch, &tx);
  for (size_t i = 0; i < ckpt_keys.size(); ++i) {
    tx.push_back({"SET", ckpt_keys[i], batch.checkpoints[i].updated, "EX",
                  std::to_string(options_.day_retention_s)});
  }
  tx.push_back({"SET", token_key, "1", "EX", std::to_string(options_.token_ttl_s)});
  tx.push_back({"EXEC"});
  auto replies = client_->Pipeline(tx);
  if (!replies.ok()) return replies.status().WithContext("flush (outcome unknown)");
  return sink_internal::CheckTransaction(*replies, tx);
}

void RedisSink::AppendSeries(const FlushBatch& batch, bool check_types,
                             std::vector<RedisArgs>* tx) const {
  static const std::string kPlain = kSeriesScript;
  static const std::string kChecked = std::string(kSeriesTypeCheck) + kSeriesScript;
  const std::string& script = check_types ? kChecked : kPlain;
  // (tier, bucket, shard) -> the deltas of that group, in batch order.
  std::map<std::tuple<int, int64_t, int>, std::vector<const SeriesDelta*>> groups;
  for (const SeriesDelta& d : batch.series) {
    groups[{static_cast<int>(d.tier), d.bucket, KeySchema::ShardOf(d.kind, d.name)}].push_back(&d);
  }
  for (const auto& [group, deltas] : groups) {
    const auto& [tier_int, bucket, shard] = group;
    const Tier tier = static_cast<Tier>(tier_int);
    const int64_t expire_at = BucketEnd(tier, bucket) + RetentionSeconds(tier);
    for (size_t first = 0; first < deltas.size(); first += kSeriesPerEval) {
      std::vector<std::string> keys{schema_.MaxKey(tier, bucket, shard)};
      std::vector<std::string> args{std::to_string(expire_at)};
      const size_t last = std::min(deltas.size(), first + kSeriesPerEval);
      bool any = false;
      for (size_t i = first; i < last; ++i)
        any |= AppendSeriesArgs(schema_, *deltas[i], &keys, &args);
      if (!any) continue;
      RedisArgs cmd{"EVAL", script, std::to_string(keys.size())};
      cmd.reserve(3 + keys.size() + args.size());
      std::move(keys.begin(), keys.end(), std::back_inserter(cmd));
      std::move(args.begin(), args.end(), std::back_inserter(cmd));
      tx->push_back(std::move(cmd));
    }
  }
}

void RedisSink::AppendSlow(const FlushBatch& batch, std::vector<RedisArgs>* tx) const {
  std::map<int64_t, RedisArgs> zadd;  // day -> ZADD key score member ...
  for (const SlowRequest& s : batch.slow) {
    if (s.latency_us < 0) continue;
    const int64_t day = DayOfMicros(s.time_us);
    RedisArgs& a = zadd[day];
    if (a.empty()) a = {"ZADD", schema_.SlowKey(day)};
    a.push_back(std::to_string(s.latency_us));
    a.push_back(EncodeSlowMember(s));
  }
  const int64_t keep = std::max<int64_t>(options_.slow_top_n, 0);
  for (auto& [day, a] : zadd) {
    const std::string key = a[1];
    tx->push_back(std::move(a));
    tx->push_back({"ZREMRANGEBYRANK", key, "0", std::to_string(-(keep + 1))});
    tx->push_back(
        {"EXPIREAT", key, std::to_string(BucketEnd(Tier::kDay, day) + options_.day_retention_s)});
  }
}

Status sink_internal::CheckTransaction(const std::vector<RedisReply>& replies,
                                       const std::vector<RedisArgs>& tx) {
  if (replies.size() != tx.size()) {
    return Status::Internal("flush: " + std::to_string(replies.size()) + " replies to " +
                            std::to_string(tx.size()) + " commands");
  }
  const RedisReply& exec = replies.back();
  if (exec.is_nil()) {
    return Status::Aborted("flush: a watched checkpoint changed before EXEC; nothing written");
  }
  // MULTI, or a command refused while queuing: Redis then answers EXEC with
  // EXECABORT and applies nothing; should EXEC run anyway, the refused
  // command would be missing from it. Either way the flush fails.
  std::string why = exec.is_error() ? exec.str : std::string();
  for (size_t i = 0; i + 1 < replies.size(); ++i) {
    if (replies[i].is_error()) {
      why += (why.empty() ? "" : "; ") + std::string("command ") + std::to_string(i) + " (" +
             tx[i][0] + "): " + replies[i].str;
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
  size_t errors = 0;
  std::string first;
  for (size_t i = 0; i < exec.elements.size(); ++i) {
    if (!exec.elements[i].is_error()) continue;
    const RedisArgs& cmd = tx[i + 1];
    // For a series EVAL, name its first series hash (cmd[3] is the shard's max key).
    const std::string key = cmd[0] == "EVAL" && cmd.size() > 4 ? cmd[4]
                            : cmd.size() > 1                   ? cmd[1]
                                                               : "";
    spdlog::error("flush: Redis rejected {} on key '{}' inside EXEC: {}", cmd[0], key,
                  exec.elements[i].str);
    if (errors++ == 0) first = cmd[0] + " " + key + ": " + exec.elements[i].str;
  }
  if (errors > 0) {
    return Status::Internal("flush: " + std::to_string(errors) +
                            " command(s) failed inside EXEC; the rest of the transaction was "
                            "applied. First: " +
                            first);
  }
  return Status::Ok();
}

namespace sink_internal {

std::vector<RedisArgs> CheckCommands(const std::vector<std::string>& ckpt_keys,
                                     const std::string& token_key) {
  std::vector<RedisArgs> check;
  if (!ckpt_keys.empty()) {
    RedisArgs watch{"WATCH"};
    watch.insert(watch.end(), ckpt_keys.begin(), ckpt_keys.end());
    check.push_back(std::move(watch));
  }
  check.push_back({"EXISTS", token_key});
  if (!ckpt_keys.empty()) {
    RedisArgs mget{"MGET"};
    mget.insert(mget.end(), ckpt_keys.begin(), ckpt_keys.end());
    check.push_back(std::move(mget));
  }
  return check;
}

Status CheckCheckReplies(const std::vector<RedisReply>& replies, size_t checkpoints) {
  const size_t want = checkpoints == 0 ? 1 : 3;
  if (replies.size() != want) {
    return Status::Internal("flush: checkpoint check: " + std::to_string(replies.size()) +
                            " replies to " + std::to_string(want) + " commands");
  }
  for (const RedisReply& r : replies) {
    if (r.is_error()) return Status::Internal("flush: checkpoint check failed: " + r.str);
  }
  if (replies[checkpoints == 0 ? 0 : 1].type != RedisReply::Type::kInteger) {
    return Status::Internal("flush: checkpoint check: EXISTS did not answer an integer");
  }
  if (checkpoints > 0 && (replies.back().type != RedisReply::Type::kArray ||
                          replies.back().elements.size() != checkpoints)) {
    return Status::Internal("flush: checkpoint check: MGET did not answer one value per file");
  }
  return Status::Ok();
}

Status Unwatch(RedisCommands& conn) {
  auto r = conn.Command({"UNWATCH"});
  if (!r.ok()) return r.status().WithContext("flush: UNWATCH");
  if (r->is_error()) return Status::Internal("flush: UNWATCH failed: " + r->str);
  return Status::Ok();
}

Status FailAfterWatch(RedisCommands& conn, const Status& failure) {
  Status unwatch = Unwatch(conn);
  if (unwatch.ok()) return failure;
  return Status(failure.code(), failure.message() + "; and " + unwatch.message());
}

Status CompareCheckpoints(RedisCommands& conn, const RedisReply& values,
                          const std::vector<std::string>& ckpt_keys, const FlushBatch& batch) {
  for (size_t i = 0; i < ckpt_keys.size(); ++i) {
    const RedisReply& v = values.elements.at(i);
    const std::string stored = v.is_nil() ? std::string() : v.str;
    if (stored != batch.checkpoints[i].expected) {
      return FailAfterWatch(
          conn, Status::Aborted("checkpoint " + ckpt_keys[i] + " is '" + stored +
                                "' but this writer expected '" + batch.checkpoints[i].expected +
                                "': another apimeter process advanced the file; nothing written"));
    }
  }
  return Status::Ok();
}

Result<std::string> ReadCheckpointValue(RedisCommands& client, const KeySchema& schema,
                                        std::string_view host, std::string_view fingerprint) {
  const std::string key = client.AsCluster() != nullptr
                              ? schema.ClusterCheckpointKey(host, fingerprint)
                              : schema.CheckpointKey(host, fingerprint);
  auto r = client.Command({"GET", key});
  if (!r.ok()) return r.status().WithContext("reading checkpoint");
  if (r->is_nil()) return std::string();
  if (r->type != RedisReply::Type::kString) {
    return Status::Internal("checkpoint " + key + " is not a string: " + r->str);
  }
  return std::move(r->str);
}

}  // namespace sink_internal

}  // namespace apimeter

// MigrateV1ToV2 (see header): scan, per day registry then tags, verify, mark.
#include "sink/migrate_v1.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <compare>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "sink/block_compactor.h"
#include "sink/block_keys.h"
#include "sink/cluster_client.h"
#include "sink/cluster_flush.h"
#include "sink/cluster_journal.h"
#include "sink/crc16.h"
#include "sink/flush_blocks.h"
#include "sink/name_registry.h"
#include "sink/schema.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

// Appends one v1 tag's blocks of one v2 tag, once: KEYS[1] the v2 meta hash,
// KEYS[2..] the lists; ARGV[1] the marker field mig:<v1 tag>, ARGV[2] the
// meta's expire-at, then per list its block and expire-at. A list created
// here gets its expiry in the same call, as a flush's append does.
constexpr const char* kAppendScript =
    "if redis.call('HEXISTS',KEYS[1],ARGV[1])==1 then return 0 end "
    "for i=2,#KEYS do "
    "if redis.call('RPUSH',KEYS[i],ARGV[2*i-1])==1 then "
    "redis.call('EXPIREAT',KEYS[i],ARGV[2*i]) end end "
    "redis.call('HSET',KEYS[1],ARGV[1],'1') "
    "if redis.call('TTL',KEYS[1])<0 then redis.call('EXPIREAT',KEYS[1],ARGV[2]) end "
    "return 1";

// Moves a v1 registry set aside (same slot), keeping its expiry; 0 when the
// key is not a set (already converted, or never v1).
constexpr const char* kRenameSetScript =
    "if redis.call('TYPE',KEYS[1])['ok']=='set' then "
    "redis.call('RENAME',KEYS[1],KEYS[2]) return 1 end return 0";

constexpr size_t kReadChunk = 2000;   // commands per read pipeline
constexpr size_t kDeleteChunk = 500;  // keys per DEL
constexpr size_t kCompactChunk = 128;  // groups per compaction round trip
constexpr size_t kShownLeftovers = 5;

struct V1Tag {
  Tier tier = Tier::kMinute;
  int64_t bucket = 0;
  int shard = 0;
  auto operator<=>(const V1Tag&) const = default;
  int64_t day() const { return sink_internal::DayOfBucket(tier, bucket); }
  std::string Name() const {
    return std::string(1, TierLetter(tier)) + std::to_string(bucket) + "." + std::to_string(shard);
  }
};

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// What one SCAN of the prefix found.
struct Found {
  std::set<V1Tag> tags;                  // tags holding v1 data keys
  std::set<int64_t> registry_days;       // days with a registry key e or c (any type)
  std::set<int64_t> renamed_days;        // days with a registry set moved aside
  std::vector<std::string> registry_keys;
  std::vector<std::string> sample;       // a few v1 keys, for messages
  std::set<std::string> journal_hosts;   // hosts with a cluster flush journal pending
  bool Empty() const { return tags.empty() && renamed_days.empty(); }
};

bool IsV2Suffix(std::string_view s) {
  return s == "a" || s == "e" || s == "c" || s == "x" || s == "meta";
}

// Files one key of the prefix into *found.
void Classify(std::string_view key, std::string_view prefix, Found* found) {
  if (key.size() < prefix.size() + 3 || key.substr(0, prefix.size()) != prefix ||
      key.substr(prefix.size(), 2) != ":{") {
    return;
  }
  const size_t open = prefix.size() + 2;
  const size_t close = key.find('}', open);
  if (close == std::string_view::npos || close + 1 >= key.size() || key[close + 1] != ':') return;
  const std::string_view tag = key.substr(open, close - open);
  const std::string_view suffix = key.substr(close + 2);
  int64_t n = 0;
  if (tag.substr(0, 5) == "ckpt:") {  // a host's slot: its pending journals' set
    if (suffix == "journal") found->journal_hosts.emplace(tag.substr(5));
    return;
  }
  if (tag.substr(0, 3) == "reg" && ParseInt(tag.substr(3), &n)) {
    if (suffix == "e" || suffix == "c") {
      found->registry_days.insert(n);
      found->registry_keys.emplace_back(key);
    } else if (suffix == "v1e" || suffix == "v1c") {
      found->renamed_days.insert(n);
    }
    return;
  }
  std::optional<Tier> tier;
  if (!tag.empty()) tier = TierFromLetter(tag[0]);
  const size_t dot = tag.find('.');
  int64_t bucket = 0, shard = 0;
  if (!tier || dot == std::string_view::npos || !ParseInt(tag.substr(1, dot - 1), &bucket) ||
      !ParseInt(tag.substr(dot + 1), &shard) || shard < 0 || shard >= KeySchema::kShards ||
      IsV2Suffix(suffix)) {
    return;
  }
  found->tags.insert({*tier, bucket, static_cast<int>(shard)});
  if (found->sample.size() < kShownLeftovers) found->sample.emplace_back(key);
}

class Migration {
 public:
  Migration(RedisCommands& client, const std::string& prefix, const MigrateOptions& options,
            const Clock* clock, const MigrateProgressFn& progress)
      : client_(client),
        prefix_(prefix),
        v1_(prefix),
        keys_(prefix),
        options_(options),
        clock_(clock),
        progress_(progress),
        // No limit: every name v1 admitted stays admitted.
        registry_(&client, keys_,
                  {NameRegistry::kMaxLimit - 1, NameRegistry::kMaxLimit - 1,
                   options.sink.day_retention_s}),
        compactor_(&client, keys_, options.sink) {}

  Result<MigrateStats> Run();

 private:
  Status Step();
  Result<Found> Scan();
  Status ScanNode(const std::string& node, Found* found);
  Status FinishV1Journals(const std::set<std::string>& hosts);
  Status ConvertRegistry(int64_t day);
  Status MigrateTag(const V1Tag& tag, std::set<std::tuple<Tier, int64_t, uint16_t, BlockKind>>* touched);
  Status ReadSeries(const V1Tag& tag, std::vector<SeriesDelta>* series,
                    std::vector<std::string>* v1_keys);
  Status Append(const V1Tag& tag, const std::vector<GroupBlock>& blocks);
  Status Delete(const std::vector<std::string>& keys);
  Status Compact(const std::set<std::tuple<Tier, int64_t, uint16_t, BlockKind>>& groups);
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisArgs>& commands,
                                           const char* what);
  Status SetMarker(std::string_view value);

  RedisCommands& client_;
  std::string prefix_;
  KeySchema v1_;
  BlockKeys keys_;
  MigrateOptions options_;
  const Clock* clock_;
  const MigrateProgressFn& progress_;
  NameRegistry registry_;
  BlockCompactor compactor_;
  BlockEncoder encoder_;
  MigrateStats stats_;
};

Status Migration::Step() {
  ++stats_.steps;
  if (options_.fail_before_step != 0 && stats_.steps >= options_.fail_before_step) {
    return Status::Unavailable("migration stopped before write step " +
                               std::to_string(stats_.steps) + " (injected failure)");
  }
  return Status::Ok();
}

Result<std::vector<RedisReply>> Migration::Pipeline(const std::vector<RedisArgs>& commands,
                                                    const char* what) {
  auto replies = client_.Pipeline(commands);
  if (!replies.ok()) return replies.status().WithContext(what);
  if (replies->size() != commands.size()) {
    return Status::Internal(std::string(what) + ": " + std::to_string(replies->size()) +
                            " replies to " + std::to_string(commands.size()) + " commands");
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    if ((*replies)[i].is_error()) {
      return Status::Internal(std::string(what) + ": " + commands[i][0] + " " +
                              (commands[i].size() > 1 ? commands[i][1] : "") + ": " +
                              (*replies)[i].str);
    }
  }
  return replies;
}

// SCAN of one node ("" = the standalone server).
Status Migration::ScanNode(const std::string& node, Found* found) {
  ClusterClient* cluster = client_.AsCluster();
  std::string cursor = "0";
  do {
    const RedisArgs scan{"SCAN", cursor, "MATCH", GlobEscape(prefix_) + ":{*", "COUNT",
                         std::to_string(options_.scan_count)};
    auto r = cluster != nullptr ? cluster->CommandOnNode(node, scan) : client_.Command(scan);
    const std::string what = node.empty() ? "SCAN" : "SCAN of " + node;
    if (!r.ok()) return r.status().WithContext(what);
    if (r->type != RedisReply::Type::kArray || r->elements.size() != 2) {
      return Status::Internal(what + ": unexpected reply " + r->str);
    }
    cursor = r->elements[0].str;
    for (const RedisReply& k : r->elements[1].elements) Classify(k.str, prefix_, found);
  } while (cursor != "0");
  return Status::Ok();
}

// A cluster's keys are spread over its masters: each is scanned.
Result<Found> Migration::Scan() {
  Found found;
  if (ClusterClient* cluster = client_.AsCluster()) {
    if (cluster->Masters().empty()) APIMETER_RETURN_IF_ERROR(cluster->Connect());
    const std::vector<std::string> masters = cluster->Masters();
    if (masters.empty()) return Status::Unavailable("the cluster has no master serving slots");
    for (const std::string& node : masters) APIMETER_RETURN_IF_ERROR(ScanNode(node, &found));
  } else {
    APIMETER_RETURN_IF_ERROR(ScanNode("", &found));
  }
  // Registries: a set is v1 (its day needs converting), a hash is v2.
  std::sort(found.registry_keys.begin(), found.registry_keys.end());
  found.registry_keys.erase(std::unique(found.registry_keys.begin(), found.registry_keys.end()),
                            found.registry_keys.end());
  std::set<int64_t> set_days;
  for (size_t first = 0; first < found.registry_keys.size(); first += kReadChunk) {
    std::vector<RedisArgs> types;
    for (size_t i = first; i < std::min(found.registry_keys.size(), first + kReadChunk); ++i) {
      types.push_back({"TYPE", found.registry_keys[i]});
    }
    APIMETER_ASSIGN_OR_RETURN(auto replies, Pipeline(types, "registry types"));
    for (size_t i = 0; i < types.size(); ++i) {
      if (replies[i].str != "set") continue;
      Found one;
      Classify(types[i][1], prefix_, &one);
      set_days.insert(one.registry_days.begin(), one.registry_days.end());
      if (found.sample.size() < kShownLeftovers) found.sample.push_back(types[i][1]);
    }
  }
  found.registry_days = std::move(set_days);  // from here on: days with a v1 set
  return found;
}

// A v1 cluster flush that committed but did not finish applying (a crash)
// left a journal in its host's slot; a v2 writer must never replay it (its
// commands write v1 keys), so it is finished here, as v1 would, first.
Status Migration::FinishV1Journals(const std::set<std::string>& hosts) {
  ClusterClient* cluster = client_.AsCluster();
  if (cluster == nullptr || hosts.empty()) return Status::Ok();
  ClusterJournal journal(cluster, v1_, V1SeriesReplyCheck());
  for (const std::string& host : hosts) {
    APIMETER_RETURN_IF_ERROR(Step());
    APIMETER_RETURN_IF_ERROR(
        journal.Prepare(host).WithContext("finishing the v1 flush journals of host " + host));
  }
  stats_.journals_finished += journal.stats().journals_recovered;
  return Status::Ok();
}

Status Migration::SetMarker(std::string_view value) {
  APIMETER_RETURN_IF_ERROR(Step());
  auto r = client_.Command({"SET", keys_.SchemaKey(), std::string(value)});
  if (!r.ok()) return r.status().WithContext("SET " + keys_.SchemaKey());
  if (r->is_error()) return Status::Internal("SET " + keys_.SchemaKey() + ": " + r->str);
  return Status::Ok();
}

Status Migration::ConvertRegistry(int64_t day) {
  for (NameKind kind : {NameKind::kEndpoint, NameKind::kCustomer}) {
    const std::string key = keys_.RegistryKey(day, kind);
    const std::string aside = v1_.RegistryKey(day, 'v') + "1" + static_cast<char>(kind);
    APIMETER_RETURN_IF_ERROR(Step());
    APIMETER_RETURN_IF_ERROR(
        Pipeline({{"EVAL", kRenameSetScript, "2", key, aside}}, "moving a v1 registry aside")
            .status());
    APIMETER_ASSIGN_OR_RETURN(auto members, Pipeline({{"SMEMBERS", aside}}, "v1 registry"));
    if (members[0].elements.empty()) continue;
    std::vector<std::string> names;
    for (const RedisReply& m : members[0].elements) names.push_back(m.str);
    std::sort(names.begin(), names.end());
    NameIds ids;
    auto& of_day = ids[{day, kind}];
    for (const std::string& n : names) of_day.emplace(n, 0);
    APIMETER_RETURN_IF_ERROR(Step());
    APIMETER_RETURN_IF_ERROR(registry_.Assign(&ids).WithContext("numbering " + aside));
    for (const auto& [name, id] : of_day) {
      uint32_t reserved = 0;
      if (id == kOtherId && !NameRegistry::ReservedId(kind, name, &reserved)) {
        return Status::Internal("numbering " + aside + ": '" + name + "' got no id");
      }
    }
    stats_.names += names.size();
    APIMETER_RETURN_IF_ERROR(Step());
    APIMETER_RETURN_IF_ERROR(Pipeline({{"DEL", aside}}, "deleting a converted registry").status());
  }
  return Status::Ok();
}

Status Migration::ReadSeries(const V1Tag& tag, std::vector<SeriesDelta>* series,
                             std::vector<std::string>* v1_keys) {
  const Tier t = tag.tier;
  const int64_t b = tag.bucket;
  const int s = tag.shard;
  const std::string max_key = v1_.MaxKey(t, b, s);
  std::vector<RedisArgs> first{
      {"ZRANGE", v1_.IndexKey(t, b, s, IndexKind::kHosts), "0", "-1"},
      {"ZRANGE", v1_.IndexKey(t, b, s, IndexKind::kEndpoints), "0", "-1"},
      {"ZRANGE", v1_.IndexKey(t, b, s, IndexKind::kCustomers), "0", "-1"},
      {"ZRANGE", max_key, "0", "-1", "WITHSCORES"}};
  APIMETER_ASSIGN_OR_RETURN(auto index, Pipeline(first, "reading v1 indexes"));
  for (IndexKind k : {IndexKind::kEndpoints, IndexKind::kCustomers, IndexKind::kCustomerBytesOut,
                      IndexKind::kHosts}) {
    v1_keys->push_back(v1_.IndexKey(t, b, s, k));
  }
  v1_keys->push_back(max_key);
  v1_keys->push_back(v1_.BucketTag(t, b, s) + ":done");  // cluster dedupe markers

  // The all series lives in one shard (its entity is "all"); the others are
  // named by this tag's indexes, so their keys carry this tag.
  std::vector<std::pair<SeriesKind, std::string>> names;
  if (KeySchema::ShardOf(SeriesKind::kAll, "") == s) names.emplace_back(SeriesKind::kAll, "");
  for (const RedisReply& m : index[0].elements) names.emplace_back(SeriesKind::kHost, m.str);
  for (const RedisReply& m : index[1].elements) names.emplace_back(SeriesKind::kEndpoint, m.str);
  for (const RedisReply& m : index[2].elements) names.emplace_back(SeriesKind::kCustomer, m.str);
  if (t == Tier::kDay) {  // the endpoints of each customer: customer x endpoint series
    std::vector<RedisArgs> ice;
    for (const RedisReply& c : index[2].elements) {
      ice.push_back({"ZRANGE", v1_.CustomerEndpointIndexKey(t, b, c.str), "0", "-1"});
      v1_keys->push_back(ice.back()[1]);
    }
    for (size_t first_i = 0; first_i < ice.size(); first_i += kReadChunk) {
      std::vector<RedisArgs> chunk(ice.begin() + first_i,
                                   ice.begin() + std::min(ice.size(), first_i + kReadChunk));
      APIMETER_ASSIGN_OR_RETURN(auto eps, Pipeline(chunk, "reading v1 customer indexes"));
      for (size_t i = 0; i < chunk.size(); ++i) {
        const std::string& customer = index[2].elements[first_i + i].str;
        for (const RedisReply& e : eps[i].elements) {
          names.emplace_back(SeriesKind::kCustomerEndpoint,
                             customer + kNameSeparator + e.str);
        }
      }
    }
  }
  std::map<std::string, int64_t> max_of;  // member id -> latency max
  for (size_t i = 0; i + 1 < index[3].elements.size(); i += 2) {
    int64_t v = 0;
    if (!ParseInt(index[3].elements[i + 1].str, &v)) {
      return Status::Internal(max_key + ": score '" + index[3].elements[i + 1].str +
                              "' is not a whole number of microseconds");
    }
    max_of[index[3].elements[i].str] = v;
  }

  for (size_t first_i = 0; first_i < names.size(); first_i += kReadChunk) {
    const size_t last = std::min(names.size(), first_i + kReadChunk);
    std::vector<RedisArgs> reads;
    for (size_t i = first_i; i < last; ++i) {
      const auto& [kind, name] = names[i];
      const std::string key = v1_.SeriesKey(t, b, kind, name);
      reads.push_back({"HGETALL", key});
      v1_keys->push_back(key);
    }
    APIMETER_ASSIGN_OR_RETURN(auto hashes, Pipeline(reads, "reading v1 series"));
    for (size_t i = first_i; i < last; ++i) {
      const RedisReply& h = hashes[i - first_i];
      if (h.elements.empty()) continue;  // nothing stored (an index entry of a hash never written)
      SeriesDelta d;
      d.tier = t;
      d.bucket = b;
      d.kind = names[i].first;
      d.name = names[i].second;
      APIMETER_RETURN_IF_ERROR(DecodeRollupFields(h, &d.rollup).WithContext(reads[i - first_i][1]));
      auto mx = max_of.find(KeySchema::MemberId(d.kind, d.name));
      if (mx != max_of.end()) d.rollup.latency_max_us = mx->second;
      series->push_back(std::move(d));
    }
  }
  stats_.series += series->size();
  return Status::Ok();
}

Status Migration::Append(const V1Tag& tag, const std::vector<GroupBlock>& blocks) {
  // One script call per v2 tag: its lists and its meta are in one slot.
  std::map<std::tuple<Tier, int64_t, uint16_t>, std::vector<const GroupBlock*>> parts;
  for (const GroupBlock& g : blocks) {
    parts[{g.group.tier, g.group.bucket, g.group.shard}].push_back(&g);
  }
  const std::string marker = "mig:" + tag.Name();
  for (const auto& [v2tag, part] : parts) {
    RedisArgs cmd{"EVAL", kAppendScript, std::to_string(1 + part.size()),
                  keys_.MetaKey(part.front()->group)};
    for (const GroupBlock* g : part) cmd.push_back(keys_.ListKey(g->group));
    cmd.push_back(marker);
    int64_t meta_expire = 0;
    for (const GroupBlock* g : part) meta_expire = std::max(meta_expire, g->expire_at);
    cmd.push_back(std::to_string(meta_expire));
    for (const GroupBlock* g : part) {
      cmd.push_back(g->bytes);
      cmd.push_back(std::to_string(g->expire_at));
    }
    APIMETER_RETURN_IF_ERROR(Step());
    APIMETER_ASSIGN_OR_RETURN(auto r, Pipeline({cmd}, "appending migrated blocks"));
    if (r[0].type != RedisReply::Type::kInteger) {
      return Status::Internal("appending migrated blocks to " + cmd[3] + ": unexpected reply");
    }
    if (r[0].integer == 0) {
      ++stats_.parts_skipped;
      continue;
    }
    for (const GroupBlock* g : part) {
      ++stats_.blocks;
      stats_.block_bytes += g->bytes.size();
    }
  }
  return Status::Ok();
}

// One DEL per hash slot (and per kDeleteChunk keys): on a cluster a DEL
// may not span slots, and a tag's customer indexes are in their own slots.
Status Migration::Delete(const std::vector<std::string>& keys) {
  std::map<int, std::vector<std::string>> by_slot;
  for (const std::string& k : keys) by_slot[HashSlot(k)].push_back(k);
  for (const auto& [slot, of_slot] : by_slot) {
    for (size_t first = 0; first < of_slot.size(); first += kDeleteChunk) {
      RedisArgs del{"DEL"};
      del.insert(del.end(), of_slot.begin() + first,
                 of_slot.begin() + std::min(of_slot.size(), first + kDeleteChunk));
      APIMETER_RETURN_IF_ERROR(Step());
      APIMETER_ASSIGN_OR_RETURN(auto r, Pipeline({del}, "deleting migrated v1 keys"));
      stats_.keys_deleted += static_cast<uint64_t>(std::max<int64_t>(r[0].integer, 0));
    }
  }
  return Status::Ok();
}

Status Migration::MigrateTag(const V1Tag& tag,
                             std::set<std::tuple<Tier, int64_t, uint16_t, BlockKind>>* touched) {
  FlushBatch batch;
  std::vector<std::string> v1_keys;
  APIMETER_RETURN_IF_ERROR(ReadSeries(tag, &batch.series, &v1_keys).WithContext(tag.Name()));
  stats_.expired += DropExpired(clock_->NowSeconds(), options_.sink, &batch);
  if (!batch.series.empty()) {
    APIMETER_ASSIGN_OR_RETURN(NameIds ids, CollectNames(batch));
    APIMETER_RETURN_IF_ERROR(registry_.Assign(&ids));
    APIMETER_ASSIGN_OR_RETURN(auto blocks,
                              EncodeFlushBlocks(batch, ids, options_.sink, &encoder_));
    APIMETER_RETURN_IF_ERROR(Append(tag, blocks));
    for (const GroupBlock& g : blocks) {
      touched->insert({g.group.tier, g.group.bucket, g.group.shard, g.group.kind});
    }
  }
  APIMETER_RETURN_IF_ERROR(Delete(v1_keys));
  ++stats_.tags;
  return Status::Ok();
}

Status Migration::Compact(const std::set<std::tuple<Tier, int64_t, uint16_t, BlockKind>>& groups) {
  std::vector<BlockGroup> chunk;
  auto flush = [&]() -> Status {
    if (chunk.empty()) return Status::Ok();
    APIMETER_RETURN_IF_ERROR(Step());
    APIMETER_ASSIGN_OR_RETURN(auto done, compactor_.Compact(chunk));
    for (CompactionOutcome o : done) stats_.compacted += o == CompactionOutcome::kCompacted;
    chunk.clear();
    return Status::Ok();
  };
  for (const auto& [tier, bucket, shard, kind] : groups) {
    chunk.push_back({kind, tier, bucket, shard});
    if (chunk.size() == kCompactChunk) APIMETER_RETURN_IF_ERROR(flush());
  }
  return flush();
}

Result<MigrateStats> Migration::Run() {
  auto marker = client_.Command({"GET", keys_.SchemaKey()});
  if (!marker.ok()) return marker.status().WithContext("GET " + keys_.SchemaKey());
  if (marker->is_error()) return Status::Internal("GET " + keys_.SchemaKey() + ": " + marker->str);
  const bool absent = marker->is_nil();
  stats_.was_v2 = !absent && marker->str == kStorageSchemaVersion;
  if (!absent && !stats_.was_v2 && marker->str != kMigratingSchemaMarker) {
    return Status::InvalidArgument(keys_.SchemaKey() + " holds schema '" + marker->str +
                                   "', which this release does not know; use the release that "
                                   "wrote it");
  }
  APIMETER_ASSIGN_OR_RETURN(Found found, Scan());
  if (!stats_.was_v2 && !found.journal_hosts.empty()) {
    // Only v1 writers ran (a v2 writer refuses v1 data and a migration), so
    // the journals are v1's: finished first, then the keys they wrote found.
    APIMETER_RETURN_IF_ERROR(FinishV1Journals(found.journal_hosts));
    APIMETER_ASSIGN_OR_RETURN(found, Scan());
  }
  if (found.Empty() && found.registry_days.empty()) {
    // Nothing of v1: a fresh Redis, or one migrated already.
    if (!stats_.was_v2) APIMETER_RETURN_IF_ERROR(SetMarker(kStorageSchemaVersion));
    return stats_;
  }
  APIMETER_RETURN_IF_ERROR(SetMarker(kMigratingSchemaMarker));

  std::map<int64_t, std::vector<V1Tag>> by_day;
  for (const V1Tag& t : found.tags) by_day[t.day()].push_back(t);
  for (int64_t d : found.registry_days) by_day[d];
  for (int64_t d : found.renamed_days) by_day[d];
  MigrateProgress p;
  p.tags_total = found.tags.size();
  for (const auto& [day, tags] : by_day) {
    p.day = day;
    ++stats_.days;
    APIMETER_RETURN_IF_ERROR(ConvertRegistry(day));
    std::set<std::tuple<Tier, int64_t, uint16_t, BlockKind>> touched;
    for (const V1Tag& tag : tags) {
      APIMETER_RETURN_IF_ERROR(MigrateTag(tag, &touched));
      ++p.tags_done;
      if (progress_) progress_(p);
    }
    APIMETER_RETURN_IF_ERROR(Compact(touched));
  }

  APIMETER_ASSIGN_OR_RETURN(Found left, Scan());
  if (!left.Empty() || !left.registry_days.empty()) {
    std::string shown;
    for (const std::string& k : left.sample) shown += (shown.empty() ? "" : ", ") + k;
    return Status::Internal(
        "v1 keys are left after converting every tag (" + std::to_string(left.tags.size()) +
        " tag(s), e.g. " + shown + "): they were written meanwhile, or hold series no index "
        "names; " + keys_.SchemaKey() + " stays '" + std::string(kMigratingSchemaMarker) +
        "'. Stop every apimeter process writing to this Redis and run `apimeter migrate` again");
  }
  APIMETER_RETURN_IF_ERROR(SetMarker(kStorageSchemaVersion));
  return stats_;
}

}  // namespace

Result<MigrateStats> MigrateV1ToV2(RedisCommands& client, const std::string& prefix,
                                   const MigrateOptions& options, const Clock* clock,
                                   const MigrateProgressFn& progress) {
  Migration m(client, prefix, options, clock, progress);
  return m.Run();
}

}  // namespace apimeter

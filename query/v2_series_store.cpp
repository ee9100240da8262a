// The v2 SeriesStore (query/series_store.h, docs/storage-v2.md "Reading"):
// per (tier, bucket, shard, kind) group one pipelined MULTI / HMGET meta /
// LRANGE / EXEC, bases decoded once into the shared BlockCache, deltas
// decoded and merged on every read, ids turned into names with the day's
// registry dictionary.
//
// Which groups: a filtered read needs only the shard of its series (kind a:
// shard 0; e: the endpoint's; c and x: the customer's); top-N reads every
// shard of its kind, sums every block exactly and then takes the N largest.
// A block that fails its checks is left out and reported (ReadDamage).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "query/redis_reads.h"
#include "query/series_store.h"
#include "sink/block_codec.h"
#include "sink/block_merge.h"
#include "sink/block_reader.h"
#include "sink/name_registry.h"
#include "sink/storage_schema.h"

namespace apimeter {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
// Damaged keys remembered so each is logged once (then no more logging).
constexpr size_t kMaxLoggedKeys = 10000;

int64_t DayOf(const BlockGroup& g) {
  return FloorDiv(g.bucket * TierSeconds(g.tier), kSecondsPerDay);
}

// The group holding `series` in (tier, bucket); nullopt where the writer
// keeps no such series (customer × endpoint below the day tier).
std::optional<BlockGroup> GroupOf(const FilterSeries& s, Tier tier, int64_t bucket) {
  switch (s.kind) {
    case SeriesKind::kAll:
    case SeriesKind::kHost:
      return BlockGroup{BlockKind::kAll, tier, bucket, 0};
    case SeriesKind::kEndpoint:
      return BlockGroup{BlockKind::kEndpoint, tier, bucket, BlockKeys::ShardOfName(tier, s.name)};
    case SeriesKind::kCustomer:
      return BlockGroup{BlockKind::kCustomer, tier, bucket, BlockKeys::ShardOfName(tier, s.name)};
    case SeriesKind::kCustomerEndpoint: {
      if (tier != Tier::kDay) return std::nullopt;
      const std::string_view customer =
          std::string_view(s.name).substr(0, s.name.find(kNameSeparator));
      return BlockGroup{BlockKind::kCustomerEndpoint, tier, bucket,
                        BlockKeys::ShardOfName(tier, customer)};
    }
    case SeriesKind::kClient:
    case SeriesKind::kClientEndpoint:
    case SeriesKind::kCustomerClient:
      return std::nullopt;  // read by ForEachClient, not as filter series
  }
  return std::nullopt;
}

using GroupOrder = std::tuple<int, int64_t, uint16_t, char>;
GroupOrder OrderOf(const BlockGroup& g) {
  return {static_cast<int>(g.tier), g.bucket, g.shard, BlockKindLetter(g.kind)};
}

// The largest id of `kind` in the keys of a block of kind `block_kind`
// (sorted), or -1.
int64_t MaxId(BlockKind block_kind, std::span<const SeriesKey> keys, NameKind kind) {
  if (keys.empty()) return -1;
  const SeriesKey last = keys.back();
  switch (block_kind) {
    case BlockKind::kAll:
      return static_cast<int64_t>(last) - 1;  // host id + 1; 0 is the all series
    case BlockKind::kEndpoint:
    case BlockKind::kCustomer:
      return static_cast<int64_t>(last);
    case BlockKind::kClient:
      return static_cast<int64_t>(last);
    case BlockKind::kCustomerEndpoint:
    case BlockKind::kClientEndpoint:
    case BlockKind::kCustomerClient: {
      // The first id of a pair is sorted; the second is not.
      const bool first = (block_kind == BlockKind::kClientEndpoint)
                             ? kind == NameKind::kClient
                             : kind == NameKind::kCustomer;
      if (first) return PairCustomer(last);
      int64_t max = -1;
      for (SeriesKey k : keys) max = std::max<int64_t>(max, PairEndpoint(k));
      return max;
    }
  }
  return -1;
}

// Hashes std::string and std::string_view alike (heterogeneous lookup).
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

bool Before(const ScoredName& a, const ScoredName& b) {
  return a.total != b.total ? a.total > b.total : a.name < b.name;
}

class V2SeriesStore final : public SeriesStore {
 public:
  V2SeriesStore(RedisCommands* client, BlockKeys keys, std::shared_ptr<BlockCache> cache,
                V2StoreOptions options)
      : client_(client),
        keys_(std::move(keys)),
        cache_(std::move(cache)),
        options_(std::move(options)) {
    if (options_.groups_per_round_trip == 0) options_.groups_per_round_trip = 1;
    if (options_.max_dictionary_days == 0) options_.max_dictionary_days = 1;
  }

  Status CheckSchema(int64_t now_s, const RetentionSeconds& retention) override {
    bool missing = false;
    return CheckStorageSchema(*client_, keys_, FloorDiv(now_s, kSecondsPerDay),
                              retention.day_s / kSecondsPerDay + 1, &missing);
  }

  Status ReadRollups(const std::vector<FilterSeries>& series, const std::vector<BucketRead>& reads,
                     bool, std::vector<Rollup>* out, ReadDamage* damage) override;
  Result<std::vector<ScoredName>> TopNames(const std::vector<BucketRun>& runs, IndexKind index,
                                           const std::string& customer, size_t limit,
                                           TopNStats* stats, ReadDamage* damage) override;
  Status ForEachClient(const std::vector<BucketRun>& runs, const ClientScope& scope,
                       const ClientFn& each, bool* logged, ReadDamage* damage) override;
  Status ForEachEndpointCustomer(const std::vector<BucketRun>& runs, const std::string& endpoint,
                                 const EndpointCustomerFn& each, ReadDamage* damage) override;

  Status ReadSlow(int64_t first_day, int64_t last_day,
                  const std::function<void(SlowRequest&&)>& each, uint64_t* malformed) override {
    std::vector<std::string> keys;
    for (int64_t day = first_day; day < last_day; ++day) keys.push_back(keys_.SlowKey(day));
    return query_reads::ReadSlowSets(client_, keys, kMaxSlowPerDay, 1000, each, malformed);
  }

  SeriesStoreStats stats() const override { return stats_; }

 private:
  // A day's registry of one kind: id -> name, and name -> id built on the
  // first lookup by name.
  struct Dictionary {
    std::vector<std::string> names;
    std::unordered_map<std::string, uint32_t> ids;
    bool indexed = false;
    uint64_t last_use = 0;
    bool Knows(uint64_t id) const { return id < names.size() && !names[id].empty(); }
  };
  // index: the group's position in the vector given to ForEachGroup.
  using GroupFn = std::function<Status(size_t index, const BlockGroup&, const std::string& key,
                                       const DecodedBlock& merged)>;

  // The series of a group's block that a reader needs, given the block's
  // keys (a cached base: the whole block): their indexes, ascending
  // (BlockDecoder::RowSelector, with the group's index).
  using SelectFn = std::function<Result<std::vector<size_t>>(size_t index, const BlockGroup&,
                                                             const DecodedBlock& all)>;
  // The keys and requests of one block of a group (a group's blocks add up).
  using RequestsFn =
      std::function<Status(const BlockGroup&, const std::string& key,
                           std::span<const SeriesKey> keys, std::span<const uint64_t> requests)>;
  // What ReadChunk does with each group it read; `base` is its cached base
  // (then stored.first is 1), else null.
  using EmitFn = std::function<Status(size_t index, const StoredGroup& stored,
                                      std::shared_ptr<const DecodedBlock> base)>;

  // Reads `groups` (chunked) and calls each() with the sum of every block
  // of a group that passes its checks. With `select`, only the series it
  // picks from each block are checked, merged and passed on.
  Status ForEachGroup(const std::vector<BlockGroup>& groups, ReadDamage* damage,
                      const GroupFn& each, const SelectFn* select = nullptr);
  // Reads `groups` (chunked) and calls each() with the keys and requests of
  // every block that passes its checks, not merged: for sums of requests,
  // at a fraction of a full decode (BlockDecoder::DecodeRequests).
  Status ForEachBlockRequests(const std::vector<BlockGroup>& groups, ReadDamage* damage,
                              const RequestsFn& each);
  // ReadChunk of every options_.groups_per_round_trip groups.
  Status ReadChunks(const std::vector<BlockGroup>& groups, const EmitFn& emit);
  Status ReadChunk(std::span<const BlockGroup> groups, size_t offset, const EmitFn& emit);
  Status Emit(size_t index, const StoredGroup& stored, std::shared_ptr<const DecodedBlock> base,
              ReadDamage* damage, const GroupFn& each, const SelectFn* select);
  // The base of `stored` when it is element 0 of the list: decoded in full,
  // checked against the group's meta and cached; null (reported damaged) if
  // it fails.
  std::shared_ptr<const DecodedBlock> DecodeBase(const StoredGroup& stored, ReadDamage* damage);
  // Whether a read of a few series decodes an uncached base of `kind` whole
  // and caches it (kinds of bounded cardinality), or reads those series only.
  static bool CachedWhole(BlockKind kind);
  // Whether `stored` holds its base (element 0); reported damaged if not.
  bool HasBase(const StoredGroup& stored, ReadDamage* damage);
  // The base's header: a base, and the CRC the group's meta names.
  static Status CheckBaseHeader(const StoredGroup& stored);
  void Damaged(const std::string& key, const std::string& why, ReadDamage* damage);

  // The dictionary of (day, kind), read from Redis when not held or when
  // `refresh` (at most once per (day, kind) per answer).
  Result<Dictionary*> Dict(int64_t day, NameKind kind, bool refresh = false);
  // The id of `name`, re-reading the dictionary once when the block holds
  // ids it does not know (the name may have been admitted since).
  Result<std::optional<uint32_t>> IdOf(int64_t day, NameKind kind, const std::string& name,
                                       const DecodedBlock& block) {
    return IdOf(day, kind, name, block.group().kind, block.keys());
  }
  Result<std::optional<uint32_t>> IdOf(int64_t day, NameKind kind, const std::string& name,
                                       BlockKind block_kind, std::span<const SeriesKey> keys);
  Result<std::optional<SeriesKey>> KeyOf(const FilterSeries& s, int64_t day,
                                         const DecodedBlock& block);
  // Whether `id` is known, re-reading the dictionary once if not.
  Result<bool> Known(int64_t day, NameKind kind, uint64_t id);
  // The name of `id` in (day, kind); nullopt, with block `key` reported
  // damaged, when the registry does not know it even after a re-read.
  Result<std::optional<std::string>> NameOrDamaged(int64_t day, NameKind kind, uint64_t id,
                                                   const std::string& key, ReadDamage* damage);

  RedisCommands* client_;
  BlockKeys keys_;
  std::shared_ptr<BlockCache> cache_;
  V2StoreOptions options_;
  BlockDecoder decoder_;
  BlockMerger merger_;
  DecodedBlock merged_;
  DecodedBlock base_rows_;  // the selected series of a base
  std::vector<DecodedBlock> deltas_;
  std::vector<SeriesKey> block_keys_;  // ForEachBlockRequests' scratch
  std::vector<uint64_t> block_requests_;
  std::map<std::pair<int64_t, NameKind>, Dictionary> dicts_;
  std::set<std::pair<int64_t, NameKind>> refreshed_;  // in the current answer
  uint64_t use_clock_ = 0;
  std::set<std::string> logged_;
  SeriesStoreStats stats_;
};

void V2SeriesStore::Damaged(const std::string& key, const std::string& why, ReadDamage* damage) {
  if (damage->insert(key).second) ++stats_.damaged_blocks;
  if (logged_.size() >= kMaxLoggedKeys || !logged_.insert(key).second) return;
  const std::string line = "query: left a damaged block out of the answer (" + why +
                           "); the answer is marked partial";
  if (options_.log_warning) {
    options_.log_warning(line);
  } else {
    spdlog::warn("{}", line);
  }
}

Status V2SeriesStore::ForEachGroup(const std::vector<BlockGroup>& groups, ReadDamage* damage,
                                   const GroupFn& each, const SelectFn* select) {
  const EmitFn emit = [&](size_t index, const StoredGroup& g,
                          std::shared_ptr<const DecodedBlock> base) {
    return Emit(index, g, std::move(base), damage, each, select);
  };
  return ReadChunks(groups, emit);
}

Status V2SeriesStore::ForEachBlockRequests(const std::vector<BlockGroup>& groups,
                                           ReadDamage* damage, const RequestsFn& each) {
  const EmitFn emit = [&](size_t, const StoredGroup& g,
                          std::shared_ptr<const DecodedBlock> base) -> Status {
    stats_.blocks_read += g.blocks.size();
    for (const std::string& b : g.blocks) stats_.bytes_read += b.size();
    size_t next = 0;
    if (g.first == 0 && g.generation >= 1) {
      // The base is element 0: its header must match the group's meta.
      next = 1;
      if (HasBase(g, damage)) {
        Status st = CheckBaseHeader(g);
        if (st.ok()) st = decoder_.DecodeRequests(g.blocks[0], g.group, &block_keys_, &block_requests_);
        if (st.ok()) {
          APIMETER_RETURN_IF_ERROR(each(g.group, g.key, block_keys_, block_requests_));
        } else {
          Damaged(g.key, g.key + " element 0: " + st.message(), damage);
        }
      }
    }
    if (base) APIMETER_RETURN_IF_ERROR(each(g.group, g.key, base->keys(), base->requests()));
    for (size_t k = next; k < g.blocks.size(); ++k) {
      auto header = ParseBlockHeader(g.blocks[k]);
      Status st = header.ok() ? Status::Ok() : header.status();
      if (st.ok() && header->base) st = Status::ParseError("a base where a delta belongs");
      if (st.ok()) st = decoder_.DecodeRequests(g.blocks[k], g.group, &block_keys_, &block_requests_);
      if (!st.ok()) {
        Damaged(g.key, g.key + " element " + std::to_string(g.first + k) + ": " + st.message(),
                damage);
        continue;
      }
      APIMETER_RETURN_IF_ERROR(each(g.group, g.key, block_keys_, block_requests_));
    }
    return Status::Ok();
  };
  return ReadChunks(groups, emit);
}

Status V2SeriesStore::ReadChunks(const std::vector<BlockGroup>& groups, const EmitFn& emit) {
  const size_t chunk = options_.groups_per_round_trip;
  for (size_t start = 0; start < groups.size(); start += chunk) {
    const size_t n = std::min(chunk, groups.size() - start);
    APIMETER_RETURN_IF_ERROR(
        ReadChunk(std::span<const BlockGroup>(groups).subspan(start, n), start, emit));
  }
  return Status::Ok();
}

Status V2SeriesStore::ReadChunk(std::span<const BlockGroup> groups, size_t offset,
                                const EmitFn& emit) {
  // Start at element 1 where the cache holds a base; Redis then says
  // whether that base is still the group's (generation and CRC).
  std::vector<uint32_t> first(groups.size(), 0);
  std::vector<std::optional<BlockVersion>> cached(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    cached[i] = cache_->CachedVersion(keys_.ListKey(groups[i]));
    if (cached[i]) first[i] = 1;
  }
  ++stats_.round_trips;
  stats_.groups_read += groups.size();
  APIMETER_ASSIGN_OR_RETURN(std::vector<StoredGroup> stored,
                            ReadGroups(*client_, keys_, groups, first));
  std::vector<BlockGroup> again;
  std::vector<size_t> again_index;
  for (size_t i = 0; i < stored.size(); ++i) {
    StoredGroup& g = stored[i];
    std::shared_ptr<const DecodedBlock> base;
    if (g.first == 1) {
      const BlockVersion version{g.generation, g.base_crc};
      if (g.generation >= 1 && version == *cached[i]) base = cache_->Get(g.key, version);
      if (!base) {  // stale, evicted meanwhile, or no base any more: read it whole
        again.push_back(g.group);
        again_index.push_back(offset + i);
        continue;
      }
      ++stats_.bases_cached;
    }
    APIMETER_RETURN_IF_ERROR(emit(offset + i, g, std::move(base)));
    g.blocks = {};  // release the bytes now
  }
  if (again.empty()) return Status::Ok();
  ++stats_.round_trips;
  stats_.groups_read += again.size();
  stats_.rereads += again.size();
  APIMETER_ASSIGN_OR_RETURN(std::vector<StoredGroup> whole, ReadGroups(*client_, keys_, again));
  for (size_t i = 0; i < whole.size(); ++i) {
    APIMETER_RETURN_IF_ERROR(emit(again_index[i], whole[i], nullptr));
  }
  return Status::Ok();
}

bool V2SeriesStore::CachedWhole(BlockKind kind) {
  switch (kind) {
    case BlockKind::kAll:
    case BlockKind::kEndpoint:
    case BlockKind::kClient:
      return true;  // bounded: hosts, limits.endpoints_per_day, clients_per_day
    case BlockKind::kCustomer:
    case BlockKind::kCustomerEndpoint:
    case BlockKind::kClientEndpoint:
    case BlockKind::kCustomerClient:
      return false;
  }
  return true;
}

bool V2SeriesStore::HasBase(const StoredGroup& g, ReadDamage* damage) {
  if (!g.blocks.empty()) return true;
  Damaged(g.key, g.key + ": generation " + std::to_string(g.generation) + " but no base", damage);
  return false;
}

Status V2SeriesStore::CheckBaseHeader(const StoredGroup& g) {
  APIMETER_ASSIGN_OR_RETURN(const BlockHeader header, ParseBlockHeader(g.blocks[0]));
  if (!header.base) return Status::ParseError("a delta where the base belongs");
  if (header.header_crc != g.base_crc) {
    return Status::ParseError("base CRC does not match the group's meta");
  }
  return Status::Ok();
}

std::shared_ptr<const DecodedBlock> V2SeriesStore::DecodeBase(const StoredGroup& g,
                                                              ReadDamage* damage) {
  if (!HasBase(g, damage)) return nullptr;
  auto decoded = std::make_shared<DecodedBlock>();
  Status st = CheckBaseHeader(g);
  if (st.ok()) st = decoder_.Decode(g.blocks[0], g.group, decoded.get());
  if (!st.ok()) {
    Damaged(g.key, g.key + " element 0: " + st.message(), damage);
    return nullptr;
  }
  cache_->Put(g.key, BlockVersion{g.generation, g.base_crc}, decoded);
  return decoded;
}

Status V2SeriesStore::Emit(size_t index, const StoredGroup& g, std::shared_ptr<const DecodedBlock> base,
                           ReadDamage* damage, const GroupFn& each, const SelectFn* select) {
  stats_.blocks_read += g.blocks.size();
  for (const std::string& b : g.blocks) stats_.bytes_read += b.size();
  std::vector<const DecodedBlock*> inputs;
  // A failure of the selection itself (a registry read) fails the answer;
  // a block that fails its checks is left out and reported.
  Status select_failed;
  const BlockDecoder::RowSelector rows_of =
      [&](const DecodedBlock& all) -> Result<std::vector<size_t>> {
    auto rows = (*select)(index, g.group, all);
    if (!rows.ok()) select_failed = rows.status();
    return rows;
  };
  size_t next = 0;
  if (g.first == 0 && g.generation >= 1 && select != nullptr && !CachedWhole(g.group.kind)) {
    // A base of a customer kind not cached, read for a few series: those
    // only, and it is not cached. (Thousands of customers make bases that
    // a 30-day read cycles through faster than the cache holds them: whole
    // decodes cost more than they saved; docs/benchmarks.md.)
    next = 1;
    if (HasBase(g, damage)) {
      Status st = CheckBaseHeader(g);
      if (st.ok()) st = decoder_.DecodeSelected(g.blocks[0], g.group, rows_of, &base_rows_);
      if (!select_failed.ok()) return select_failed;
      if (st.ok()) {
        inputs.push_back(&base_rows_);
      } else {
        Damaged(g.key, g.key + " element 0: " + st.message(), damage);
      }
    }
  } else if (g.first == 0 && g.generation >= 1) {  // the base is element 0
    next = 1;
    base = DecodeBase(g, damage);
  }
  if (base && select != nullptr) {
    // Only the selected series of the cached, whole base go on.
    APIMETER_ASSIGN_OR_RETURN(const std::vector<size_t> rows, (*select)(index, g.group, *base));
    base_rows_.Reset(base->group(), true);
    if (base->has_seen()) base_rows_.EnableSeen();
    for (size_t row : rows) base_rows_.AppendSeriesFrom(*base, row);
    inputs.push_back(&base_rows_);
  } else if (base) {
    inputs.push_back(base.get());
  }
  if (deltas_.size() < g.blocks.size()) deltas_.resize(g.blocks.size());
  for (size_t k = next; k < g.blocks.size(); ++k) {
    Status st = select != nullptr
                    ? decoder_.DecodeSelected(g.blocks[k], g.group, rows_of, &deltas_[k])
                    : decoder_.Decode(g.blocks[k], g.group, &deltas_[k]);
    if (!select_failed.ok()) return select_failed;
    if (st.ok() && deltas_[k].base()) st = Status::ParseError("a base where a delta belongs");
    if (!st.ok()) {
      Damaged(g.key, g.key + " element " + std::to_string(g.first + k) + ": " + st.message(),
              damage);
      continue;
    }
    inputs.push_back(&deltas_[k]);
  }
  if (inputs.empty()) {
    merged_.Reset(g.group, false);
    return each(index, g.group, g.key, merged_);
  }
  if (inputs.size() == 1) return each(index, g.group, g.key, *inputs[0]);
  if (Status st = merger_.Merge(inputs, &merged_); !st.ok()) {
    // Only a sum beyond 64 bits fails here: no number of this group is right.
    Damaged(g.key, g.key + ": " + st.message(), damage);
    return Status::Ok();
  }
  return each(index, g.group, g.key, merged_);
}

Result<V2SeriesStore::Dictionary*> V2SeriesStore::Dict(int64_t day, NameKind kind, bool refresh) {
  const auto k = std::make_pair(day, kind);
  auto it = dicts_.find(k);
  if (it == dicts_.end() || refresh) {
    ++stats_.round_trips;
    ++stats_.dictionary_reads;
    APIMETER_ASSIGN_OR_RETURN(std::vector<std::string> names,
                              ReadNameDictionary(*client_, keys_, day, kind));
    Dictionary d;
    d.names = std::move(names);
    it = dicts_.insert_or_assign(k, std::move(d)).first;
    if (dicts_.size() > options_.max_dictionary_days * 3) {  // three kinds a day
      auto oldest = dicts_.end();
      for (auto j = dicts_.begin(); j != dicts_.end(); ++j) {
        if (j != it && (oldest == dicts_.end() || j->second.last_use < oldest->second.last_use)) {
          oldest = j;
        }
      }
      if (oldest != dicts_.end()) dicts_.erase(oldest);
    }
  }
  it->second.last_use = ++use_clock_;
  return &it->second;
}

Result<std::optional<uint32_t>> V2SeriesStore::IdOf(int64_t day, NameKind kind,
                                                    const std::string& name,
                                                    BlockKind block_kind,
                                                    std::span<const SeriesKey> keys) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    APIMETER_ASSIGN_OR_RETURN(Dictionary * d, Dict(day, kind, attempt == 1));
    if (!d->indexed) {
      d->ids.reserve(d->names.size());
      for (size_t id = 0; id < d->names.size(); ++id) {
        if (!d->names[id].empty()) d->ids.emplace(d->names[id], static_cast<uint32_t>(id));
      }
      d->indexed = true;
    }
    if (auto f = d->ids.find(name); f != d->ids.end()) return std::optional<uint32_t>(f->second);
    // Not known: only worth a new read if the block holds ids we do not know.
    if (attempt == 1 || refreshed_.count({day, kind}) != 0 ||
        MaxId(block_kind, keys, kind) < static_cast<int64_t>(d->names.size())) {
      break;
    }
    refreshed_.insert({day, kind});
  }
  return std::optional<uint32_t>();
}

Result<std::optional<std::string>> V2SeriesStore::NameOrDamaged(int64_t day, NameKind kind,
                                                                uint64_t id,
                                                                const std::string& key,
                                                                ReadDamage* damage) {
  APIMETER_ASSIGN_OR_RETURN(Dictionary * dict, Dict(day, kind));
  if (!dict->Knows(id)) {
    APIMETER_ASSIGN_OR_RETURN(bool known, Known(day, kind, id));
    if (!known) {
      Damaged(key, key + ": id " + std::to_string(id) + " is not in registry " +
                       keys_.RegistryKey(day, kind),
              damage);
      return std::optional<std::string>();
    }
    APIMETER_ASSIGN_OR_RETURN(dict, Dict(day, kind));
  }
  return std::optional<std::string>(dict->names[id]);
}

Result<bool> V2SeriesStore::Known(int64_t day, NameKind kind, uint64_t id) {
  APIMETER_ASSIGN_OR_RETURN(Dictionary * d, Dict(day, kind));
  if (d->Knows(id)) return true;
  if (!refreshed_.insert({day, kind}).second) return false;
  APIMETER_ASSIGN_OR_RETURN(d, Dict(day, kind, true));
  return d->Knows(id);
}

Result<std::optional<SeriesKey>> V2SeriesStore::KeyOf(const FilterSeries& s, int64_t day,
                                                      const DecodedBlock& block) {
  using OptKey = std::optional<SeriesKey>;
  switch (s.kind) {
    case SeriesKind::kAll:
      return OptKey(kAllSeriesKey);
    case SeriesKind::kHost: {
      APIMETER_ASSIGN_OR_RETURN(auto id, IdOf(day, NameKind::kHost, s.name, block));
      return id ? OptKey(HostSeriesKey(*id)) : OptKey();
    }
    case SeriesKind::kEndpoint:
    case SeriesKind::kCustomer: {
      const NameKind kind =
          s.kind == SeriesKind::kEndpoint ? NameKind::kEndpoint : NameKind::kCustomer;
      APIMETER_ASSIGN_OR_RETURN(auto id, IdOf(day, kind, s.name, block));
      return id ? OptKey(*id) : OptKey();
    }
    case SeriesKind::kClient:
    case SeriesKind::kClientEndpoint:
    case SeriesKind::kCustomerClient:
      return OptKey();  // GroupOf has no group for them
    case SeriesKind::kCustomerEndpoint: {
      const size_t sep = s.name.find(kNameSeparator);
      if (sep == std::string::npos) return OptKey();
      APIMETER_ASSIGN_OR_RETURN(auto c,
                                IdOf(day, NameKind::kCustomer, s.name.substr(0, sep), block));
      if (!c) return OptKey();
      APIMETER_ASSIGN_OR_RETURN(auto e,
                                IdOf(day, NameKind::kEndpoint, s.name.substr(sep + 1), block));
      return e ? OptKey(PairKey(*c, *e)) : OptKey();
    }
  }
  return OptKey();
}

Status V2SeriesStore::ReadRollups(const std::vector<FilterSeries>& series,
                                  const std::vector<BucketRead>& reads, bool,
                                  std::vector<Rollup>* out, ReadDamage* damage) {
  refreshed_.clear();
  // The reads of each group, groups in (tier, bucket, shard, kind) order.
  std::map<GroupOrder, std::pair<BlockGroup, std::vector<size_t>>> by_group;
  for (size_t i = 0; i < reads.size(); ++i) {
    const BucketRead& r = reads[i];
    std::optional<BlockGroup> g = GroupOf(series[r.series], r.tier, r.bucket);
    if (!g) continue;
    auto& entry = by_group[OrderOf(*g)];
    entry.first = *g;
    entry.second.push_back(i);
  }
  std::vector<BlockGroup> groups;
  std::vector<const std::vector<size_t>*> reads_of;
  groups.reserve(by_group.size());
  for (const auto& [order, entry] : by_group) {
    groups.push_back(entry.first);
    reads_of.push_back(&entry.second);
  }
  // Only the series read are checked and merged: a few of a large block.
  const SelectFn select = [&](size_t index, const BlockGroup& g,
                              const DecodedBlock& all) -> Result<std::vector<size_t>> {
    std::vector<size_t> rows;
    const int64_t day = DayOf(g);
    for (size_t i : *reads_of[index]) {
      APIMETER_ASSIGN_OR_RETURN(auto key, KeyOf(series[reads[i].series], day, all));
      if (!key) continue;
      if (auto at = all.Find(*key)) rows.push_back(*at);
    }
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
  };
  return ForEachGroup(groups, damage,
                      [&](size_t index, const BlockGroup& g, const std::string&,
                          const DecodedBlock& block) {
                        const std::vector<size_t>& mine = *reads_of[index];
                        if (block.empty()) return Status::Ok();
                        const int64_t day = DayOf(g);
                        for (size_t i : mine) {
                          APIMETER_ASSIGN_OR_RETURN(auto key,
                                                    KeyOf(series[reads[i].series], day, block));
                          if (!key) continue;
                          if (auto at = block.Find(*key)) {
                            (*out)[reads[i].group].Merge(block.RollupAt(*at));
                          }
                        }
                        return Status::Ok();
                      },
                      &select);
}

Result<std::vector<ScoredName>> V2SeriesStore::TopNames(const std::vector<BucketRun>& runs,
                                                        IndexKind index,
                                                        const std::string& customer, size_t limit,
                                                        TopNStats* stats, ReadDamage* damage) {
  refreshed_.clear();
  *stats = TopNStats{};
  const bool of_customer = !customer.empty();
  const BlockKind kind = of_customer                       ? BlockKind::kCustomerEndpoint
                         : index == IndexKind::kCustomers ? BlockKind::kCustomer
                                                          : BlockKind::kEndpoint;
  const NameKind names_kind = kind == BlockKind::kCustomer ? NameKind::kCustomer
                                                           : NameKind::kEndpoint;
  std::vector<BlockGroup> groups;
  for (const BucketRun& run : runs) {
    for (int64_t b = run.first; b < run.last; ++b) {
      if (of_customer) {
        if (run.tier != Tier::kDay) continue;  // pairs are kept per day only
        groups.push_back({kind, run.tier, b, BlockKeys::ShardOfName(run.tier, customer)});
        continue;
      }
      for (uint16_t s = 0; s < BlockShards(run.tier); ++s) groups.push_back({kind, run.tier, b, s});
    }
  }
  // Requests per (day, id), indexed by id (a day's ids are dense, below its
  // dictionary's size): ids are per day, names come at the end.
  std::map<int64_t, std::vector<uint64_t>> sums;
  auto add = [&](int64_t day, const Dictionary& dict, const std::string& key, uint64_t id,
                 uint64_t n, std::vector<uint64_t>* into) -> Status {
    if (!dict.Knows(id)) {
      APIMETER_ASSIGN_OR_RETURN(bool known, Known(day, names_kind, id));
      if (!known) {
        Damaged(key, key + ": id " + std::to_string(id) + " is not in registry " +
                         keys_.RegistryKey(day, names_kind),
                damage);
        return Status::Ok();
      }
    }
    if (id >= into->size()) into->resize(static_cast<size_t>(id) + 1, 0);
    (*into)[id] += n;
    return Status::Ok();
  };
  // Requests add up across a group's blocks: no merge, no full decode.
  APIMETER_RETURN_IF_ERROR(ForEachBlockRequests(
      groups, damage,
      [&](const BlockGroup& g, const std::string& key, std::span<const SeriesKey> keys,
          std::span<const uint64_t> requests) -> Status {
        if (keys.empty()) return Status::Ok();
        const int64_t day = DayOf(g);
        auto& into = sums[day];
        size_t from = 0, to = keys.size();
        if (of_customer) {
          APIMETER_ASSIGN_OR_RETURN(auto cid,
                                    IdOf(day, NameKind::kCustomer, customer, g.kind, keys));
          if (!cid) return Status::Ok();
          from = static_cast<size_t>(
              std::lower_bound(keys.begin(), keys.end(), PairKey(*cid, 0)) - keys.begin());
          to = static_cast<size_t>(
              std::lower_bound(keys.begin(), keys.end(), PairKey(*cid, 0) + (SeriesKey{1} << 32)) -
              keys.begin());
        }
        // The dictionary's node stays put when Known re-reads it.
        APIMETER_ASSIGN_OR_RETURN(Dictionary * dict, Dict(day, names_kind));
        if (into.size() < dict->names.size()) into.resize(dict->names.size(), 0);
        for (size_t i = from; i < to; ++i) {
          const uint64_t id = of_customer ? PairEndpoint(keys[i]) : keys[i];
          if (requests[i] == 0) continue;
          if (id < into.size() && dict->Knows(id)) {
            into[id] += requests[i];
            continue;
          }
          APIMETER_RETURN_IF_ERROR(add(day, *dict, key, id, requests[i], &into));
        }
        return Status::Ok();
      }));
  stats->path = TopNPath::kFull;
  stats->commands = 4 * groups.size();
  // Looked up by view (no string built per day and name), keyed by copies:
  // reading one day's dictionary may evict another's.
  std::unordered_map<std::string, uint64_t, NameHash, std::equal_to<>> by_name;
  for (const auto& [day, ids] : sums) {
    if (ids.empty()) continue;
    APIMETER_ASSIGN_OR_RETURN(Dictionary * d, Dict(day, names_kind));
    if (by_name.empty()) by_name.reserve(d->names.size());
    for (size_t id = 0; id < ids.size(); ++id) {
      if (ids[id] == 0 || !d->Knows(id)) continue;
      const std::string& name = d->names[id];
      if (auto it = by_name.find(std::string_view(name)); it != by_name.end()) {
        it->second += ids[id];
      } else {
        by_name.emplace(name, ids[id]);
      }
    }
  }
  std::vector<ScoredName> all;
  all.reserve(by_name.size());
  for (const auto& [name, total] : by_name) all.push_back({name, total});
  const size_t n = std::min(all.size(), limit);
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), Before);
  all.resize(n);
  return all;
}

Status V2SeriesStore::ForEachEndpointCustomer(const std::vector<BucketRun>& runs,
                                              const std::string& endpoint,
                                              const EndpointCustomerFn& each, ReadDamage* damage) {
  refreshed_.clear();
  // Pairs are sharded by customer: one endpoint's pairs are in every shard.
  std::vector<BlockGroup> groups;
  for (const BucketRun& run : runs) {
    if (run.tier != Tier::kDay) continue;
    for (int64_t b = run.first; b < run.last; ++b) {
      for (uint16_t s = 0; s < BlockShards(run.tier); ++s) {
        groups.push_back({BlockKind::kCustomerEndpoint, run.tier, b, s});
      }
    }
  }
  return ForEachGroup(
      groups, damage,
      [&](size_t, const BlockGroup& g, const std::string& key, const DecodedBlock& block) -> Status {
        if (block.empty()) return Status::Ok();
        const int64_t day = DayOf(g);
        APIMETER_ASSIGN_OR_RETURN(auto eid, IdOf(day, NameKind::kEndpoint, endpoint, block));
        if (!eid) return Status::Ok();
        const auto keys = block.keys();
        for (size_t i = 0; i < keys.size(); ++i) {
          if (PairEndpoint(keys[i]) != *eid || block.requests()[i] == 0) continue;
          APIMETER_ASSIGN_OR_RETURN(
              auto customer, NameOrDamaged(day, NameKind::kCustomer, PairCustomer(keys[i]), key,
                                           damage));
          if (!customer) continue;
          APIMETER_RETURN_IF_ERROR(each(day, *customer, block.RollupAt(i)));
        }
        return Status::Ok();
      });
}

Status V2SeriesStore::ForEachClient(const std::vector<BucketRun>& runs, const ClientScope& scope,
                                    const ClientFn& each, bool* logged, ReadDamage* damage) {
  refreshed_.clear();
  *logged = false;
  const bool all = scope.endpoint.empty() && scope.customer.empty();
  // Kind u in every shard of every day: the clients themselves, and whether
  // the dimension was logged at all. Kind v (by client) is in every shard;
  // kind w (by customer) in the customer's shard only.
  std::vector<BlockGroup> clients, pairs;
  for (const BucketRun& run : runs) {
    if (run.tier != Tier::kDay) continue;
    for (int64_t b = run.first; b < run.last; ++b) {
      for (uint16_t s = 0; s < BlockShards(run.tier); ++s) {
        clients.push_back({BlockKind::kClient, run.tier, b, s});
        if (!scope.endpoint.empty()) pairs.push_back({BlockKind::kClientEndpoint, run.tier, b, s});
      }
      if (!scope.customer.empty()) {
        pairs.push_back({BlockKind::kCustomerClient, run.tier, b,
                         BlockKeys::ShardOfName(run.tier, scope.customer)});
      }
    }
  }
  // The client of id `id` in `day`, or nullopt (reported damaged) when the
  // registry does not know it.
  auto client_name = [&](int64_t day, uint64_t id,
                         const std::string& key) -> Result<std::optional<std::string>> {
    return NameOrDamaged(day, NameKind::kClient, id, key, damage);
  };
  APIMETER_RETURN_IF_ERROR(ForEachGroup(
      clients, damage,
      [&](size_t, const BlockGroup& g, const std::string& key, const DecodedBlock& block) -> Status {
        if (block.empty()) return Status::Ok();
        *logged = true;
        if (!all) return Status::Ok();
        const int64_t day = DayOf(g);
        const auto keys = block.keys();
        for (size_t i = 0; i < keys.size(); ++i) {
          if (block.requests()[i] == 0) continue;
          APIMETER_ASSIGN_OR_RETURN(auto name, client_name(day, keys[i], key));
          if (name) APIMETER_RETURN_IF_ERROR(each(day, *name, block.RollupAt(i)));
        }
        return Status::Ok();
      }));
  if (all) return Status::Ok();
  return ForEachGroup(
      pairs, damage,
      [&](size_t, const BlockGroup& g, const std::string& key, const DecodedBlock& block) -> Status {
        if (block.empty()) return Status::Ok();
        const int64_t day = DayOf(g);
        const auto keys = block.keys();
        size_t from = 0, to = keys.size();
        std::optional<uint32_t> endpoint_id;
        if (g.kind == BlockKind::kClientEndpoint) {
          APIMETER_ASSIGN_OR_RETURN(endpoint_id,
                                    IdOf(day, NameKind::kEndpoint, scope.endpoint, block));
          if (!endpoint_id) return Status::Ok();
        } else {
          APIMETER_ASSIGN_OR_RETURN(auto cid, IdOf(day, NameKind::kCustomer, scope.customer, block));
          if (!cid) return Status::Ok();
          from = static_cast<size_t>(
              std::lower_bound(keys.begin(), keys.end(), PairKey(*cid, 0)) - keys.begin());
          to = static_cast<size_t>(
              std::lower_bound(keys.begin(), keys.end(), PairKey(*cid, 0) + (SeriesKey{1} << 32)) -
              keys.begin());
        }
        for (size_t i = from; i < to; ++i) {
          if (block.requests()[i] == 0) continue;
          if (endpoint_id && PairEndpoint(keys[i]) != *endpoint_id) continue;
          const uint32_t client = endpoint_id ? PairCustomer(keys[i]) : PairEndpoint(keys[i]);
          APIMETER_ASSIGN_OR_RETURN(auto name, client_name(day, client, key));
          if (name) APIMETER_RETURN_IF_ERROR(each(day, *name, block.RollupAt(i)));
        }
        return Status::Ok();
      });
}

}  // namespace

std::unique_ptr<SeriesStore> MakeV2SeriesStore(RedisCommands* client, BlockKeys keys,
                                               std::shared_ptr<BlockCache> cache,
                                               V2StoreOptions options) {
  if (!cache) cache = std::make_shared<BlockCache>(kDefaultBlockCacheBytes);
  return std::make_unique<V2SeriesStore>(client, std::move(keys), std::move(cache),
                                         std::move(options));
}

std::unique_ptr<SeriesStore> MakeSeriesStore(int64_t schema, RedisCommands* client,
                                             const std::string& prefix,
                                             std::shared_ptr<BlockCache> cache) {
  if (schema == 2) return MakeV2SeriesStore(client, BlockKeys(prefix), std::move(cache));
  return MakeV1SeriesStore(client, KeySchema(prefix));
}

}  // namespace apimeter

// FlushBlocks: retention, names and block encoding of a flush (see header).
#include "sink/flush_blocks.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>

#include "sink/schema.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

using sink_internal::BucketEnd;
using sink_internal::DayOfBucket;
using sink_internal::DayOfMicros;

std::pair<std::string_view, std::string_view> SplitPair(std::string_view name) {
  const size_t sep = name.find(kNameSeparator);
  return {name.substr(0, sep), name.substr(sep + 1)};
}

// Looks names up in the ids Assign filled in.
class IdLookup {
 public:
  explicit IdLookup(const NameIds& ids) : ids_(ids) {}

  // The id of `name`, or Internal when the caller did not collect it.
  Result<uint32_t> Id(int64_t day, NameKind kind, std::string_view name) const {
    auto day_it = ids_.find({day, kind});
    if (day_it != ids_.end()) {
      auto it = day_it->second.find(std::string(name));
      if (it != day_it->second.end()) return it->second;
    }
    return Status::Internal("flush: no registry id for " + std::string(1, static_cast<char>(kind)) +
                            " name '" + std::string(name) + "' of day " + std::to_string(day));
  }
  // The name a series is stored under: itself, or "other" when refused.
  static std::string_view Stored(uint32_t id, std::string_view name) {
    return id == kOtherId ? kOtherName : name;
  }

 private:
  const NameIds& ids_;
};

struct Placed {
  BlockGroup group;
  KeyedRollup series;
};

bool GroupLess(const BlockGroup& a, const BlockGroup& b) {
  return std::tuple(a.tier, a.bucket, a.shard, a.kind) <
         std::tuple(b.tier, b.bucket, b.shard, b.kind);
}

// A pair series ("first\x1fsecond"): keyed by both ids, sharded by the first
// name, as every pair kind (x, v, w) is stored.
Result<Placed> PlacePair(const SeriesDelta& d, const IdLookup& ids, int64_t day, NameKind first,
                         NameKind second, BlockKind kind, Placed p) {
  auto [a, b] = SplitPair(d.name);
  APIMETER_ASSIGN_OR_RETURN(uint32_t first_id, ids.Id(day, first, a));
  APIMETER_ASSIGN_OR_RETURN(uint32_t second_id, ids.Id(day, second, b));
  p.group.kind = kind;
  p.group.shard = BlockKeys::ShardOfName(d.tier, IdLookup::Stored(first_id, a));
  p.series.key = PairKey(first_id, second_id);
  return p;
}

// The group and key of one delta.
Result<Placed> Place(const SeriesDelta& d, const IdLookup& ids) {
  const int64_t day = DayOfBucket(d.tier, d.bucket);
  Placed p;
  p.group.tier = d.tier;
  p.group.bucket = d.bucket;
  p.series.rollup = &d.rollup;
  switch (d.kind) {
    case SeriesKind::kAll:
      p.group.kind = BlockKind::kAll;
      p.series.key = kAllSeriesKey;
      return p;
    case SeriesKind::kHost: {
      APIMETER_ASSIGN_OR_RETURN(uint32_t id, ids.Id(day, NameKind::kHost, d.name));
      p.group.kind = BlockKind::kAll;
      p.series.key = HostSeriesKey(id);
      return p;
    }
    case SeriesKind::kEndpoint:
    case SeriesKind::kCustomer: {
      const bool endpoint = d.kind == SeriesKind::kEndpoint;
      APIMETER_ASSIGN_OR_RETURN(
          uint32_t id, ids.Id(day, endpoint ? NameKind::kEndpoint : NameKind::kCustomer, d.name));
      p.group.kind = endpoint ? BlockKind::kEndpoint : BlockKind::kCustomer;
      p.group.shard = BlockKeys::ShardOfName(d.tier, IdLookup::Stored(id, d.name));
      p.series.key = id;
      return p;
    }
    case SeriesKind::kCustomerEndpoint:
      return PlacePair(d, ids, day, NameKind::kCustomer, NameKind::kEndpoint,
                       BlockKind::kCustomerEndpoint, std::move(p));
    case SeriesKind::kClient: {
      APIMETER_ASSIGN_OR_RETURN(uint32_t id, ids.Id(day, NameKind::kClient, d.name));
      p.group.kind = BlockKind::kClient;
      p.group.shard = BlockKeys::ShardOfName(d.tier, IdLookup::Stored(id, d.name));
      p.series.key = id;
      return p;
    }
    case SeriesKind::kClientEndpoint:
      return PlacePair(d, ids, day, NameKind::kClient, NameKind::kEndpoint,
                       BlockKind::kClientEndpoint, std::move(p));
    case SeriesKind::kCustomerClient:
      return PlacePair(d, ids, day, NameKind::kCustomer, NameKind::kClient,
                       BlockKind::kCustomerClient, std::move(p));
  }
  return Status::Internal("flush: unknown series kind");
}

}  // namespace

int64_t RetentionSeconds(Tier tier, const SinkOptions& options) {
  switch (tier) {
    case Tier::kMinute: return options.minute_retention_s;
    case Tier::kHour: return options.hour_retention_s;
    case Tier::kDay: return options.day_retention_s;
  }
  return 0;
}

int64_t GroupExpireAt(const BlockGroup& group, const SinkOptions& options) {
  return BucketEnd(group.tier, group.bucket) + RetentionSeconds(group.tier, options);
}

namespace {
bool SeriesExpired(const SeriesDelta& d, int64_t now_s, const SinkOptions& options) {
  return BucketEnd(d.tier, d.bucket) + RetentionSeconds(d.tier, options) <= now_s;
}
bool SlowExpired(const SlowRequest& s, int64_t now_s, const SinkOptions& options) {
  return BucketEnd(Tier::kDay, DayOfMicros(s.time_us)) + options.day_retention_s <= now_s;
}
}  // namespace

uint64_t DropExpired(int64_t now_s, const SinkOptions& options, FlushBatch* batch) {
  const size_t before = batch->series.size() + batch->slow.size();
  std::erase_if(batch->series,
                [&](const SeriesDelta& d) { return SeriesExpired(d, now_s, options); });
  std::erase_if(batch->slow, [&](const SlowRequest& s) { return SlowExpired(s, now_s, options); });
  return before - batch->series.size() - batch->slow.size();
}

bool AnyExpired(int64_t now_s, const SinkOptions& options, const FlushBatch& batch) {
  return std::any_of(batch.series.begin(), batch.series.end(),
                     [&](const SeriesDelta& d) { return SeriesExpired(d, now_s, options); }) ||
         std::any_of(batch.slow.begin(), batch.slow.end(),
                     [&](const SlowRequest& s) { return SlowExpired(s, now_s, options); });
}

Result<NameIds> CollectNames(const FlushBatch& batch) {
  NameIds names;
  auto add = [&](int64_t day, NameKind kind, std::string_view name) {
    names[{day, kind}].try_emplace(std::string(name), kOtherId);
  };
  for (const SeriesDelta& d : batch.series) {
    const int64_t day = DayOfBucket(d.tier, d.bucket);
    switch (d.kind) {
      case SeriesKind::kAll: break;
      case SeriesKind::kHost: add(day, NameKind::kHost, d.name); break;
      case SeriesKind::kEndpoint: add(day, NameKind::kEndpoint, d.name); break;
      case SeriesKind::kCustomer: add(day, NameKind::kCustomer, d.name); break;
      case SeriesKind::kCustomerEndpoint: {
        if (d.name.find(kNameSeparator) == std::string::npos) {
          return Status::InvalidArgument("flush batch: customer x endpoint series '" + d.name +
                                         "' has no \\x1f separator");
        }
        if (d.tier != Tier::kDay) {
          return Status::InvalidArgument(
              "flush batch: customer x endpoint series are kept per day only, not in tier '" +
              std::string(1, TierLetter(d.tier)) + "'");
        }
        auto [customer, endpoint] = SplitPair(d.name);
        add(day, NameKind::kCustomer, customer);
        add(day, NameKind::kEndpoint, endpoint);
        break;
      }
      case SeriesKind::kClient:
      case SeriesKind::kClientEndpoint:
      case SeriesKind::kCustomerClient: {
        const bool pair = d.kind != SeriesKind::kClient;
        if (pair && d.name.find(kNameSeparator) == std::string::npos) {
          return Status::InvalidArgument("flush batch: client pair series '" + d.name +
                                         "' has no \\x1f separator");
        }
        if (d.tier != Tier::kDay) {
          return Status::InvalidArgument(
              "flush batch: client series are kept per day only, not in tier '" +
              std::string(1, TierLetter(d.tier)) + "'");
        }
        if (!pair) {
          add(day, NameKind::kClient, d.name);
        } else if (d.kind == SeriesKind::kClientEndpoint) {
          auto [client, endpoint] = SplitPair(d.name);
          add(day, NameKind::kClient, client);
          add(day, NameKind::kEndpoint, endpoint);
        } else {
          auto [customer, client] = SplitPair(d.name);
          add(day, NameKind::kCustomer, customer);
          add(day, NameKind::kClient, client);
        }
        break;
      }
    }
  }
  for (const SlowRequest& s : batch.slow) {
    const int64_t day = DayOfMicros(s.time_us);
    add(day, NameKind::kHost, s.host);
    add(day, NameKind::kEndpoint, s.endpoint);
    add(day, NameKind::kCustomer, s.customer);
  }
  return names;
}

Result<std::vector<GroupBlock>> EncodeFlushBlocks(const FlushBatch& batch, const NameIds& ids,
                                                  const SinkOptions& options,
                                                  BlockEncoder* encoder) {
  const IdLookup lookup(ids);
  std::vector<Placed> placed;
  placed.reserve(batch.series.size());
  for (const SeriesDelta& d : batch.series) {
    if (d.rollup.Empty()) continue;
    APIMETER_ASSIGN_OR_RETURN(Placed p, Place(d, lookup));
    placed.push_back(p);
  }
  std::stable_sort(placed.begin(), placed.end(),
                   [](const Placed& a, const Placed& b) { return GroupLess(a.group, b.group); });
  std::vector<GroupBlock> out;
  std::vector<KeyedRollup> series;
  for (size_t first = 0; first < placed.size();) {
    size_t last = first;
    series.clear();
    while (last < placed.size() && placed[last].group == placed[first].group) {
      series.push_back(placed[last++].series);
    }
    const BlockGroup& group = placed[first].group;
    auto bytes = encoder->Encode(group, /*base=*/false, series);
    if (!bytes.ok()) return bytes.status().WithContext("flush: block " + DescribeGroup(group));
    auto header = ParseBlockHeader(*bytes);
    if (!header.ok()) return header.status().WithContext("flush: block " + DescribeGroup(group));
    out.push_back({group, std::move(*bytes), GroupExpireAt(group, options), header->series});
    first = last;
  }
  return out;
}

Result<std::vector<SlowDay>> PrepareSlow(const FlushBatch& batch, const NameIds& ids,
                                         const SinkOptions& options) {
  const IdLookup lookup(ids);
  std::map<int64_t, SlowDay> days;
  for (const SlowRequest& s : batch.slow) {
    if (s.latency_us < 0) continue;
    const int64_t day = DayOfMicros(s.time_us);
    SlowRequest stored = s;
    for (auto [kind, name] : {std::pair{NameKind::kHost, &stored.host},
                              std::pair{NameKind::kEndpoint, &stored.endpoint},
                              std::pair{NameKind::kCustomer, &stored.customer}}) {
      APIMETER_ASSIGN_OR_RETURN(uint32_t id, lookup.Id(day, kind, *name));
      *name = std::string(IdLookup::Stored(id, *name));
    }
    SlowDay& d = days[day];
    d.day = day;
    d.expire_at = BucketEnd(Tier::kDay, day) + options.day_retention_s;
    d.entries.emplace_back(s.latency_us, EncodeSlowMember(stored));
  }
  std::vector<SlowDay> out;
  for (auto& [day, d] : days) out.push_back(std::move(d));
  return out;
}

void AppendSlowCommands(const std::vector<SlowDay>& days, int64_t top_n, const BlockKeys& keys,
                        std::vector<RedisArgs>* out) {
  const int64_t keep = std::max<int64_t>(top_n, 0);
  for (const SlowDay& day : days) {
    if (day.entries.empty()) continue;
    const std::string key = keys.SlowKey(day.day);
    RedisArgs zadd{"ZADD", key};
    zadd.reserve(2 + 2 * day.entries.size());
    for (const auto& [latency, member] : day.entries) {
      zadd.push_back(std::to_string(latency));
      zadd.push_back(member);
    }
    out->push_back(std::move(zadd));
    out->push_back({"ZREMRANGEBYRANK", key, "0", std::to_string(-(keep + 1))});
    out->push_back({"EXPIREAT", key, std::to_string(day.expire_at)});
  }
}

}  // namespace apimeter

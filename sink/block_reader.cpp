// BlockReader: atomic group reads, checked decode and merge (see header).
#include "sink/block_reader.h"

#include <charconv>
#include <memory>
#include <utility>

#include "sink/name_registry.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

constexpr size_t kCommandsPerGroup = 4;  // MULTI, HMGET, LRANGE, EXEC

bool ParseUnsigned(const std::string& s, int base, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// The group from its four replies.
// Moves the blocks out of `r` (a query reads megabytes of them: no copy).
Result<StoredGroup> ParseGroup(const BlockGroup& group, const std::string& key,
                               std::span<RedisReply> r) {
  for (size_t i = 0; i < kCommandsPerGroup; ++i) {
    if (r[i].is_error()) return Status::Internal("reading " + key + ": " + r[i].str);
  }
  RedisReply& exec = r[3];
  if (exec.is_nil()) return Status::Internal("reading " + key + ": transaction discarded");
  if (exec.type != RedisReply::Type::kArray || exec.elements.size() != 2) {
    return Status::Internal("reading " + key + ": unexpected EXEC reply");
  }
  const RedisReply& meta = exec.elements[0];
  RedisReply& list = exec.elements[1];
  for (const RedisReply* e : {&meta, static_cast<const RedisReply*>(&list)}) {
    if (e->is_error()) return Status::Internal("reading " + key + ": " + e->str);
  }
  if (meta.type != RedisReply::Type::kArray || meta.elements.size() != 2 ||
      list.type != RedisReply::Type::kArray) {
    return Status::Internal("reading " + key + ": unexpected HMGET or LRANGE reply");
  }
  StoredGroup out;
  out.group = group;
  out.key = key;
  const RedisReply& g = meta.elements[0];
  const RedisReply& b = meta.elements[1];
  if (!g.is_nil() && !ParseUnsigned(g.str, 10, &out.generation)) {
    return Status::ParseError(key + ": generation '" + g.str + "' is not a number");
  }
  if (out.generation > 0) {
    uint64_t crc = 0;
    if (b.is_nil() || !ParseUnsigned(b.str, 16, &crc) || crc > UINT32_MAX) {
      return Status::ParseError(key + ": generation " + std::to_string(out.generation) +
                                " without a base CRC");
    }
    out.base_crc = static_cast<uint32_t>(crc);
  }
  out.blocks.reserve(list.elements.size());
  for (RedisReply& e : list.elements) {
    if (e.type != RedisReply::Type::kString) {
      return Status::Internal("reading " + key + ": a list element is not a string");
    }
    out.blocks.push_back(std::move(e.str));
  }
  return out;
}

}  // namespace

Result<std::vector<StoredGroup>> ReadGroups(RedisCommands& client, const BlockKeys& keys,
                                            std::span<const BlockGroup> groups,
                                            std::span<const uint32_t> first) {
  if (!first.empty() && first.size() != groups.size()) {
    return Status::Internal("reading blocks: a start index per group is needed");
  }
  std::vector<RedisArgs> cmds;
  std::vector<std::string> list_keys;
  cmds.reserve(groups.size() * kCommandsPerGroup);
  for (size_t i = 0; i < groups.size(); ++i) {
    const BlockGroup& g = groups[i];
    list_keys.push_back(keys.ListKey(g));
    cmds.push_back({"MULTI"});
    cmds.push_back({"HMGET", keys.MetaKey(g), GenerationField(g.kind), BaseCrcField(g.kind)});
    cmds.push_back(
        {"LRANGE", list_keys.back(), std::to_string(first.empty() ? 0 : first[i]), "-1"});
    cmds.push_back({"EXEC"});
  }
  auto replies = client.Pipeline(cmds);
  if (!replies.ok()) return replies.status().WithContext("reading blocks");
  if (replies->size() != cmds.size()) {
    return Status::Internal("reading blocks: " + std::to_string(replies->size()) + " replies to " +
                            std::to_string(cmds.size()) + " commands");
  }
  std::vector<StoredGroup> out;
  out.reserve(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    APIMETER_ASSIGN_OR_RETURN(
        StoredGroup g,
        ParseGroup(groups[i], list_keys[i],
                   std::span<RedisReply>(*replies).subspan(i * kCommandsPerGroup,
                                                                 kCommandsPerGroup)));
    g.first = first.empty() ? 0 : first[i];
    out.push_back(std::move(g));
  }
  return out;
}

Status MergeStoredGroup(const StoredGroup& stored, BlockDecoder* decoder, BlockMerger* merger,
                        DecodedBlock* out) {
  if (stored.first != 0) {
    return Status::Internal(stored.key + ": merging a group read without its first elements");
  }
  if (stored.blocks.empty()) {
    if (stored.generation > 0) {
      return Status::ParseError(stored.key + ": generation " + std::to_string(stored.generation) +
                                " but no base");
    }
    out->Reset(stored.group, false);
    return Status::Ok();
  }
  std::vector<DecodedBlock> decoded(stored.blocks.size());
  std::vector<const DecodedBlock*> inputs;
  for (size_t i = 0; i < stored.blocks.size(); ++i) {
    const std::string where = stored.key + " element " + std::to_string(i);
    if (Status st = decoder->Decode(stored.blocks[i], stored.group, &decoded[i]); !st.ok()) {
      return st.WithContext(where);
    }
    const bool want_base = i == 0 && stored.generation > 0;
    if (decoded[i].base() != want_base) {
      return Status::ParseError(where + ": a " + (decoded[i].base() ? "base" : "delta") +
                                " where the list (generation " +
                                std::to_string(stored.generation) + ") has a " +
                                (want_base ? "base" : "delta"));
    }
    if (want_base) {
      auto header = ParseBlockHeader(stored.blocks[i]);
      if (!header.ok()) return header.status().WithContext(where);
      if (header->header_crc != stored.base_crc) {
        return Status::ParseError(where + ": base CRC does not match the group's meta");
      }
    }
    inputs.push_back(&decoded[i]);
  }
  if (inputs.size() == 1) {
    *out = std::move(decoded[0]);
    out->set_base(false);
    return Status::Ok();
  }
  return merger->Merge(inputs, out).WithContext(stored.key);
}

Result<BucketSeries> ReadBucketSeries(RedisCommands& client, const BlockKeys& keys, Tier tier,
                                      int64_t bucket, NameDictionaries* dictionaries) {
  std::vector<BlockGroup> groups{{BlockKind::kAll, tier, bucket, 0}};
  for (BlockKind kind : {BlockKind::kEndpoint, BlockKind::kCustomer, BlockKind::kCustomerEndpoint,
                         BlockKind::kClient, BlockKind::kClientEndpoint, BlockKind::kCustomerClient}) {
    if (IsDayOnlyKind(kind) && tier != Tier::kDay) continue;
    for (uint16_t s = 0; s < BlockShards(tier); ++s) groups.push_back({kind, tier, bucket, s});
  }
  APIMETER_ASSIGN_OR_RETURN(std::vector<StoredGroup> stored, ReadGroups(client, keys, groups));

  const int64_t day = sink_internal::DayOfBucket(tier, bucket);
  NameDictionaries local;
  NameDictionaries& dict = dictionaries != nullptr ? *dictionaries : local;
  auto name = [&](NameKind k, uint64_t id, const std::string& key) -> Result<std::string> {
    auto it = dict.find({day, k});
    if (it == dict.end() || id >= it->second.size()) {
      auto fresh = ReadNameDictionary(client, keys, day, k);
      if (!fresh.ok()) return fresh.status();
      it = dict.insert_or_assign({day, k}, std::move(*fresh)).first;
    }
    if (id >= it->second.size()) {
      return Status::ParseError(key + ": id " + std::to_string(id) + " is not in registry " +
                                keys.RegistryKey(day, k));
    }
    return it->second[id];
  };

  BucketSeries out;
  BlockDecoder decoder;
  BlockMerger merger;
  DecodedBlock merged;
  for (const StoredGroup& g : stored) {
    APIMETER_RETURN_IF_ERROR(MergeStoredGroup(g, &decoder, &merger, &merged));
    for (size_t i = 0; i < merged.size(); ++i) {
      const SeriesKey key = merged.keys()[i];
      SeriesName series;
      switch (g.group.kind) {
        case BlockKind::kAll: {
          series.kind = key == kAllSeriesKey ? SeriesKind::kAll : SeriesKind::kHost;
          if (key != kAllSeriesKey) {
            APIMETER_ASSIGN_OR_RETURN(series.name, name(NameKind::kHost, key - 1, g.key));
          }
          break;
        }
        case BlockKind::kEndpoint: {
          series.kind = SeriesKind::kEndpoint;
          APIMETER_ASSIGN_OR_RETURN(series.name, name(NameKind::kEndpoint, key, g.key));
          break;
        }
        case BlockKind::kCustomer: {
          series.kind = SeriesKind::kCustomer;
          APIMETER_ASSIGN_OR_RETURN(series.name, name(NameKind::kCustomer, key, g.key));
          break;
        }
        case BlockKind::kCustomerEndpoint: {
          series.kind = SeriesKind::kCustomerEndpoint;
          APIMETER_ASSIGN_OR_RETURN(std::string c,
                                    name(NameKind::kCustomer, PairCustomer(key), g.key));
          APIMETER_ASSIGN_OR_RETURN(std::string e,
                                    name(NameKind::kEndpoint, PairEndpoint(key), g.key));
          series.name = c + kNameSeparator + e;
          break;
        }
        case BlockKind::kClient: {
          series.kind = SeriesKind::kClient;
          APIMETER_ASSIGN_OR_RETURN(series.name, name(NameKind::kClient, key, g.key));
          break;
        }
        case BlockKind::kClientEndpoint: {
          series.kind = SeriesKind::kClientEndpoint;
          APIMETER_ASSIGN_OR_RETURN(std::string u,
                                    name(NameKind::kClient, PairCustomer(key), g.key));
          APIMETER_ASSIGN_OR_RETURN(std::string e,
                                    name(NameKind::kEndpoint, PairEndpoint(key), g.key));
          series.name = u + kNameSeparator + e;
          break;
        }
        case BlockKind::kCustomerClient: {
          series.kind = SeriesKind::kCustomerClient;
          APIMETER_ASSIGN_OR_RETURN(std::string c,
                                    name(NameKind::kCustomer, PairCustomer(key), g.key));
          APIMETER_ASSIGN_OR_RETURN(std::string u,
                                    name(NameKind::kClient, PairEndpoint(key), g.key));
          series.name = c + kNameSeparator + u;
          break;
        }
      }
      if (g.group.kind != BlockKind::kAll) {
        const std::string_view entity =
            IsPairKind(g.group.kind)
                ? std::string_view(series.name).substr(0, series.name.find(kNameSeparator))
                : std::string_view(series.name);
        if (BlockKeys::ShardOfName(tier, entity) != g.group.shard) {
          return Status::ParseError(g.key + ": series '" + series.name + "' is in another shard");
        }
      }
      if (!out.emplace(std::move(series), merged.RollupAt(i)).second) {
        return Status::ParseError(g.key + ": a series stored in two groups");
      }
    }
  }
  return out;
}

}  // namespace apimeter

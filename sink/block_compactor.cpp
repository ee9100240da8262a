// BlockCompactor: read, merge, compare-and-swap (see header).
#include "sink/block_compactor.h"

#include <cstdio>

#include "sink/block_reader.h"
#include "sink/flush_blocks.h"

namespace apimeter {
namespace {

// KEYS[1] list, KEYS[2] meta; ARGV[1] generation field, ARGV[2] base CRC
// field, ARGV[3] generation read, ARGV[4] count, ARGV[5] header of element
// count-1 as read, ARGV[6] base, ARGV[7] base CRC (hex), ARGV[8] expire-at.
// Answers 1 when it swapped, 0 when the group changed since it was read.
constexpr const char* kCompactScript =
    "local g=tonumber(redis.call('HGET',KEYS[2],ARGV[1]) or '0') "
    "if g~=tonumber(ARGV[3]) then return 0 end "
    "local n=tonumber(ARGV[4]) "
    "if redis.call('LLEN',KEYS[1])<n then return 0 end "
    "if string.sub(redis.call('LINDEX',KEYS[1],n-1),1,string.len(ARGV[5]))~=ARGV[5] then "
    "return 0 end "
    "redis.call('LTRIM',KEYS[1],n,-1) redis.call('LPUSH',KEYS[1],ARGV[6]) "
    "redis.call('HINCRBY',KEYS[2],ARGV[1],1) redis.call('HSET',KEYS[2],ARGV[2],ARGV[7]) "
    "redis.call('EXPIREAT',KEYS[1],ARGV[8]) redis.call('EXPIREAT',KEYS[2],ARGV[8]) "
    "return 1";

std::string Hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

}  // namespace

Result<std::vector<std::optional<PreparedCompaction>>> BlockCompactor::Prepare(
    std::span<const BlockGroup> groups) {
  APIMETER_ASSIGN_OR_RETURN(std::vector<StoredGroup> stored, ReadGroups(*client_, keys_, groups));
  std::vector<std::optional<PreparedCompaction>> out;
  out.reserve(stored.size());
  for (const StoredGroup& g : stored) {
    if (g.blocks.size() < 2) {
      out.emplace_back();
      continue;
    }
    APIMETER_RETURN_IF_ERROR(MergeStoredGroup(g, &decoder_, &merger_, &merged_));
    merged_.set_base(true);
    auto base = encoder_.Encode(merged_);
    if (!base.ok()) return base.status().WithContext("compacting " + g.key);
    APIMETER_ASSIGN_OR_RETURN(BlockHeader header, ParseBlockHeader(*base));
    PreparedCompaction p;
    p.group = g.group;
    p.generation = g.generation;
    p.count = g.blocks.size();
    p.last_header = g.blocks.back().substr(0, kBlockHeaderBytes);
    p.base = std::move(*base);
    p.base_crc = header.header_crc;
    p.expire_at = GroupExpireAt(g.group, options_);
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<CompactionOutcome>> BlockCompactor::Commit(
    std::span<const PreparedCompaction> prepared) {
  std::vector<RedisArgs> cmds;
  cmds.reserve(prepared.size());
  for (const PreparedCompaction& p : prepared) {
    cmds.push_back({"EVAL", kCompactScript, "2", keys_.ListKey(p.group), keys_.MetaKey(p.group),
                    GenerationField(p.group.kind), BaseCrcField(p.group.kind),
                    std::to_string(p.generation), std::to_string(p.count), p.last_header, p.base,
                    Hex32(p.base_crc), std::to_string(p.expire_at)});
  }
  auto replies = client_->Pipeline(cmds);
  if (!replies.ok()) return replies.status().WithContext("compaction (outcome unknown)");
  if (replies->size() != cmds.size()) {
    return Status::Internal("compaction: " + std::to_string(replies->size()) + " replies to " +
                            std::to_string(cmds.size()) + " calls");
  }
  std::vector<CompactionOutcome> out;
  out.reserve(prepared.size());
  for (size_t i = 0; i < prepared.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    const std::string key = keys_.ListKey(prepared[i].group);
    if (r.is_error()) return Status::Internal("compaction of " + key + ": " + r.str);
    if (r.type != RedisReply::Type::kInteger || (r.integer != 0 && r.integer != 1)) {
      return Status::Internal("compaction of " + key + ": unexpected reply");
    }
    if (r.integer == 1) {
      ++stats_.compacted;
      stats_.blocks_merged += prepared[i].count;
      out.push_back(CompactionOutcome::kCompacted);
    } else {
      ++stats_.lost_races;
      out.push_back(CompactionOutcome::kLostRace);
    }
  }
  return out;
}

Result<std::vector<CompactionOutcome>> BlockCompactor::Compact(std::span<const BlockGroup> groups) {
  APIMETER_ASSIGN_OR_RETURN(auto prepared, Prepare(groups));
  std::vector<PreparedCompaction> work;
  for (auto& p : prepared) {
    if (p) work.push_back(std::move(*p));
  }
  if (work.empty()) return std::vector<CompactionOutcome>{};
  return Commit(work);
}

}  // namespace apimeter

// BlockSink: schema check, retention, names, blocks, commit (see header).
#include "sink/block_sink.h"

#include <spdlog/spdlog.h>

#include "common/time_util.h"
#include "sink/flush_blocks.h"
#include "sink/sink_internal.h"
#include "sink/storage_schema.h"

namespace apimeter {

BlockSink::BlockSink(RedisCommands* client, FlushProtocol* protocol, BlockKeys keys,
                     SinkOptions options, const Clock* clock)
    : client_(client),
      protocol_(protocol),
      keys_(keys),
      options_(options),
      clock_(clock),
      registry_(client, keys,
                {options.endpoints_per_day, options.customers_per_day, options.day_retention_s,
                 options.clients_per_day}),
      compactor_(client, keys, options) {}

Status BlockSink::Flush(const FlushBatch& batch) {
  const uint64_t sent_before = client_->commands_sent();
  Status st = FlushOnce(batch);
  stats_.commands += client_->commands_sent() - sent_before;
  if (st.ok()) {
    ++stats_.flushes;
  } else {
    ++stats_.failures;
  }
  return st;
}

Status BlockSink::FlushOnce(const FlushBatch& input) {
  if (input.id.empty()) {
    return Status::InvalidArgument(
        "flush batch has no id: storage v2 needs it as the idempotency token");
  }
  APIMETER_RETURN_IF_ERROR(sink_internal::CheckDistinctCheckpoints(input));
  if (!schema_checked_) APIMETER_RETURN_IF_ERROR(CheckSchema());
  // The batch is copied only when some of it is past retention (old
  // backfills): a copy of every series per flush cost more than the encoding.
  const int64_t now_s = clock_->NowSeconds();
  FlushBatch kept;
  const bool drop = AnyExpired(now_s, options_, input);
  if (drop) {
    kept = input;
    stats_.dropped_expired_deltas += DropExpired(now_s, options_, &kept);
  }
  const FlushBatch& batch = drop ? kept : input;
  APIMETER_ASSIGN_OR_RETURN(NameIds ids, CollectNames(batch));
  APIMETER_RETURN_IF_ERROR(registry_.Assign(&ids));

  PreparedFlush flush;
  flush.host = batch.host;
  flush.token = batch.id;
  APIMETER_ASSIGN_OR_RETURN(flush.blocks, EncodeFlushBlocks(batch, ids, options_, &encoder_));
  APIMETER_ASSIGN_OR_RETURN(flush.slow, PrepareSlow(batch, ids, options_));
  flush.slow_top_n = options_.slow_top_n;
  flush.checkpoints = batch.checkpoints;
  flush.checkpoint_ttl_s = options_.day_retention_s;
  flush.token_ttl_s = options_.token_ttl_s;

  APIMETER_ASSIGN_OR_RETURN(CommitReport report, protocol_->Commit(flush));
  if (report.already_applied) {
    ++stats_.already_applied;
    return Status::Ok();
  }
  Remember(flush, report);
  return Status::Ok();
}

Status BlockSink::CheckSchema() {
  const int64_t today = sink_internal::FloorDiv(clock_->NowSeconds(), kSecondsPerDay);
  APIMETER_RETURN_IF_ERROR(EnsureStorageSchema(*client_, keys_, today,
                                               options_.day_retention_s / kSecondsPerDay + 1));
  schema_checked_ = true;
  return Status::Ok();
}

Result<std::string> BlockSink::ReadCheckpoint(std::string_view host,
                                              std::string_view fingerprint) {
  // On a cluster, a dead process may have moved this checkpoint and left
  // its data journaled: apply that first.
  APIMETER_RETURN_IF_ERROR(protocol_->FinishCommitted(host));
  return sink_internal::ReadCheckpointValue(*client_, KeySchema(keys_.prefix()), host,
                                            fingerprint);
}

SinkStats BlockSink::ExportStats() const {
  SinkStats s;
  s.flushes = stats_.flushes;
  s.failures = stats_.failures;
  s.commands = stats_.commands;
  s.already_applied = stats_.already_applied;
  s.dropped_expired_deltas = stats_.dropped_expired_deltas;
  s.blocks = stats_.blocks;
  s.block_bytes = stats_.block_bytes;
  s.series = stats_.series;
  s.compactions = compactor_.stats().compacted;
  s.compaction_lost_races = compactor_.stats().lost_races;
  s.blocks_merged = compactor_.stats().blocks_merged;
  s.compaction_failures = compaction_failures_;
  s.compactions_pending = pending_.size() + closed_to_compact();
  s.registry_calls = registry_.stats().calls;
  s.registry_refused = registry_.stats().refused;
  return s;
}

void BlockSink::Remember(const PreparedFlush& flush, const CommitReport& report) {
  for (size_t i = 0; i < flush.blocks.size(); ++i) {
    const GroupBlock& b = flush.blocks[i];
    ++stats_.blocks;
    stats_.block_bytes += b.bytes.size();
    stats_.series += b.series;
    const GroupKey key{b.group.tier, b.group.bucket, b.group.shard, b.group.kind};
    const int64_t length = i < report.list_lengths.size() ? report.list_lengths[i] : 0;
    if (length >= kCompactAtLength && pending_.size() < kMaxPendingCompactions) {
      pending_.insert(key);
    }
    auto it = written_.find(key);
    if (it != written_.end()) {
      it->second.length = length;
    } else if (written_.size() < kMaxTrackedGroups) {
      written_.emplace(key, Written{sink_internal::BucketEnd(b.group.tier, b.group.bucket) +
                                        kCompactAfterCloseS,
                                    length});
    } else {
      ++untracked_groups_;
    }
  }
}

size_t BlockSink::closed_to_compact() const {
  const int64_t now = clock_->NowSeconds();
  size_t n = 0;
  for (const auto& [key, w] : written_) n += Due(w, now) && w.length >= 2;
  return n;
}

Status BlockSink::Maintain(size_t max_groups) {
  std::vector<GroupKey> groups;
  for (auto it = pending_.begin(); it != pending_.end() && groups.size() < max_groups; ++it) {
    groups.push_back(*it);
  }
  // Due groups (closed buckets; every group once writing is done), oldest
  // first (the map is ordered by tier, then bucket; every tier's due groups
  // are taken, so the order only spreads the work).
  const int64_t now = clock_->NowSeconds();
  for (auto it = written_.begin(); it != written_.end() && groups.size() < max_groups;) {
    if (!Due(it->second, now)) {
      ++it;
    } else if (it->second.length < 2) {
      it = written_.erase(it);  // one block: nothing to merge (a later writer saw more)
    } else {
      if (!pending_.count(it->first)) groups.push_back(it->first);
      ++it;
    }
  }
  return CompactGroups(groups);
}

Status BlockSink::CompactGroups(const std::vector<GroupKey>& keys) {
  if (keys.empty()) return Status::Ok();
  std::vector<BlockGroup> groups;
  groups.reserve(keys.size());
  for (const auto& [tier, bucket, shard, kind] : keys) groups.push_back({kind, tier, bucket, shard});
  auto done = compactor_.Compact(groups);
  if (!done.ok()) {
    ++compaction_failures_;
    spdlog::warn("compaction of {} group(s) failed (they stay pending): {}", groups.size(),
                 done.status().ToString());
    return done.status();
  }
  for (const GroupKey& k : keys) {
    pending_.erase(k);
    written_.erase(k);
  }
  return Status::Ok();
}

Status BlockSink::CompactPending(size_t max_groups) {
  std::vector<GroupKey> groups;
  for (auto it = pending_.begin(); it != pending_.end() && groups.size() < max_groups; ++it) {
    groups.push_back(*it);
  }
  return CompactGroups(groups);
}

}  // namespace apimeter

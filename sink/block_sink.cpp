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
                {options.endpoints_per_day, options.customers_per_day, options.day_retention_s}),
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
  if (!schema_checked_) {
    const int64_t today = clock_->NowSeconds() / kSecondsPerDay;
    APIMETER_RETURN_IF_ERROR(EnsureStorageSchema(*client_, keys_, today,
                                                 options_.day_retention_s / kSecondsPerDay + 1));
    schema_checked_ = true;
  }
  FlushBatch batch = input;
  stats_.dropped_expired_deltas += DropExpired(clock_->NowSeconds(), options_, &batch);
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

void BlockSink::Remember(const PreparedFlush& flush, const CommitReport& report) {
  for (size_t i = 0; i < flush.blocks.size(); ++i) {
    const GroupBlock& b = flush.blocks[i];
    ++stats_.blocks;
    stats_.block_bytes += b.bytes.size();
    stats_.series += b.series;
    if (i < report.list_lengths.size() && report.list_lengths[i] >= kCompactAtLength &&
        pending_.size() < kMaxPendingCompactions) {
      pending_.insert({b.group.tier, b.group.bucket, b.group.shard, b.group.kind});
    }
  }
}

Status BlockSink::CompactPending(size_t max_groups) {
  std::vector<BlockGroup> groups;
  for (auto it = pending_.begin(); it != pending_.end() && groups.size() < max_groups; ++it) {
    const auto& [tier, bucket, shard, kind] = *it;
    groups.push_back({kind, tier, bucket, shard});
  }
  if (groups.empty()) return Status::Ok();
  auto done = compactor_.Compact(groups);
  if (!done.ok()) {
    spdlog::warn("compaction of {} group(s) failed (they stay pending): {}", groups.size(),
                 done.status().ToString());
    return done.status();
  }
  for (const BlockGroup& g : groups) pending_.erase({g.tier, g.bucket, g.shard, g.kind});
  return Status::Ok();
}

}  // namespace apimeter

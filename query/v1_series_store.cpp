// The v1 SeriesStore (query/series_store.h): one hash per (tier, bucket,
// series), sorted-set indexes summed by SummedTopN, max sorted sets read
// with one ZMSCORE per (tier, bucket, shard). The reads QueryEngine made
// before the store existed, unchanged.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "query/query_engine.h"
#include "query/redis_reads.h"
#include "query/series_store.h"

namespace apimeter {
namespace {

using query_reads::ParseScore;
using query_reads::ReplyError;
using query_reads::RunChunked;

// One ZMSCORE: the max scores of several series in one (tier, bucket, shard)
// max set. `reads` index the BucketReads whose series are asked, in order.
struct MaxRead {
  Tier tier;
  int64_t bucket;
  int shard;
  std::vector<size_t> reads;
};

// Groups the (series, bucket) reads by the max set holding their score, at
// most QueryEngine::kMaxScoresPerCommand members per command. Deterministic
// order (tier, bucket, shard).
std::vector<MaxRead> GroupMaxReads(const std::vector<BucketRead>& reads,
                                   const std::vector<int>& shard_of_series) {
  std::map<std::tuple<int, int64_t, int>, std::vector<size_t>> by_set;
  for (size_t i = 0; i < reads.size(); ++i) {
    const BucketRead& r = reads[i];
    if (shard_of_series[r.series] < 0) continue;  // requests only: no max
    by_set[{static_cast<int>(r.tier), r.bucket, shard_of_series[r.series]}].push_back(i);
  }
  std::vector<MaxRead> out;
  for (auto& [key, members] : by_set) {
    const auto& [tier, bucket, shard] = key;
    for (size_t k = 0; k < members.size(); k += QueryEngine::kMaxScoresPerCommand) {
      const size_t end = std::min(members.size(), k + QueryEngine::kMaxScoresPerCommand);
      out.push_back({static_cast<Tier>(tier), bucket, shard,
                     std::vector<size_t>(members.begin() + static_cast<std::ptrdiff_t>(k),
                                         members.begin() + static_cast<std::ptrdiff_t>(end))});
    }
  }
  return out;
}

class V1SeriesStore final : public SeriesStore {
 public:
  V1SeriesStore(RedisCommands* client, KeySchema schema)
      : client_(client), schema_(std::move(schema)) {}

  Status CheckSchema(int64_t, const RetentionSeconds&) override { return Status::Ok(); }

  // HGETALL of every (series, bucket) and, with_max, the max scores with one
  // ZMSCORE per (tier, bucket, shard) max set, all in the same pipelined
  // chunks; merged per group.
  Status ReadRollups(const std::vector<FilterSeries>& series, const std::vector<BucketRead>& reads,
                     bool with_max, std::vector<Rollup>* groups, ReadDamage*) override {
    std::vector<std::string> members;
    std::vector<int> shards;
    members.reserve(series.size());
    shards.reserve(series.size());
    for (const auto& s : series) {
      members.push_back(KeySchema::MemberId(s.kind, s.name));
      shards.push_back(s.requests_only ? -1 : KeySchema::ShardOf(s.kind, s.name));
    }
    const std::vector<MaxRead> max_reads =
        with_max ? GroupMaxReads(reads, shards) : std::vector<MaxRead>();
    auto make = [&](size_t i) -> RedisArgs {
      if (i < reads.size()) {
        const BucketRead& r = reads[i];
        const FilterSeries& s = series[r.series];
        std::string key = schema_.SeriesKey(r.tier, r.bucket, s.kind, s.name);
        if (s.requests_only) return {"HGET", std::move(key), "n"};
        return {"HGETALL", std::move(key)};
      }
      const MaxRead& m = max_reads[i - reads.size()];
      RedisArgs args{"ZMSCORE", schema_.MaxKey(m.tier, m.bucket, m.shard)};
      for (size_t read : m.reads) args.push_back(members[reads[read].series]);
      return args;
    };
    auto handle_max = [&](const MaxRead& m, const RedisReply& reply) -> Status {
      if (reply.type != RedisReply::Type::kArray || reply.elements.size() != m.reads.size()) {
        return Status::ParseError("query: ZMSCORE " + schema_.MaxKey(m.tier, m.bucket, m.shard) +
                                  " did not return one score per member");
      }
      for (size_t k = 0; k < m.reads.size(); ++k) {
        const RedisReply& score_reply = reply.elements[k];
        if (score_reply.is_nil()) continue;  // no latency logged for that series there
        const BucketRead& r = reads[m.reads[k]];
        double score = 0;
        if (!ParseScore(score_reply.str, &score) || score < 0) {
          return Status::ParseError("query: max score '" + score_reply.str + "' of " +
                                    members[r.series] + " is not a latency");
        }
        Rollup& out = (*groups)[r.group];
        out.latency_max_us = std::max<int64_t>(out.latency_max_us, std::llround(score));
      }
      return Status::Ok();
    };
    auto handle = [&](size_t i, const RedisReply& reply) -> Status {
      if (reply.is_error()) return ReplyError(reply, make(i));
      if (i >= reads.size()) return handle_max(max_reads[i - reads.size()], reply);
      if (series[reads[i].series].requests_only) {
        if (reply.is_nil()) return Status::Ok();
        double n = 0;
        if (!ParseScore(reply.str, &n) || n < 0 || n != std::floor(n)) {
          return Status::ParseError("query: field n of " + make(i)[1] + " is not a count");
        }
        (*groups)[reads[i].group].requests += static_cast<uint64_t>(n);
        return Status::Ok();
      }
      Status st = DecodeRollupFields(reply, &(*groups)[reads[i].group]);
      return st.ok() ? st : st.WithContext(make(i)[1]);
    };
    const size_t total = reads.size() + max_reads.size();
    stats_.round_trips += (total + QueryEngine::kPipelineChunk - 1) / QueryEngine::kPipelineChunk;
    return RunChunked(client_, total, QueryEngine::kPipelineChunk, make, handle);
  }

  // One index key per bucket for a customer's endpoints (it lives in the
  // customer's shard); otherwise one per shard per bucket.
  Result<std::vector<ScoredName>> TopNames(const std::vector<BucketRun>& runs, IndexKind index,
                                           const std::string& customer, size_t limit,
                                           TopNStats* stats, ReadDamage*) override {
    const size_t per_bucket = customer.empty() ? KeySchema::kShards : 1;
    std::vector<std::vector<std::string>> groups(per_bucket);
    for (const BucketRun& run : runs) {
      for (int64_t b = run.first; b < run.last; ++b) {
        for (size_t g = 0; g < per_bucket; ++g) {
          groups[g].push_back(customer.empty()
                                  ? schema_.IndexKey(run.tier, b, static_cast<int>(g), index)
                                  : schema_.CustomerEndpointIndexKey(run.tier, b, customer));
        }
      }
    }
    return SummedTopN(client_, groups, limit, stats);
  }

  Status ReadSlow(int64_t first_day, int64_t last_day,
                  const std::function<void(SlowRequest&&)>& each, uint64_t* malformed) override {
    std::vector<std::string> keys;
    for (int64_t day = first_day; day < last_day; ++day) keys.push_back(schema_.SlowKey(day));
    return query_reads::ReadSlowSets(client_, keys, kMaxSlowPerDay, QueryEngine::kPipelineChunk,
                                     each, malformed);
  }

  SeriesStoreStats stats() const override { return stats_; }

 private:
  RedisCommands* client_;
  KeySchema schema_;
  SeriesStoreStats stats_;
};

}  // namespace

std::unique_ptr<SeriesStore> MakeV1SeriesStore(RedisCommands* client, KeySchema schema) {
  return std::make_unique<V1SeriesStore>(client, std::move(schema));
}

}  // namespace apimeter

// Model test of the storage-v2 write path against a real redis-server.
//
// Random sequences over one model: N simulated hosts, each a separate
// "process" (its own connection, Aggregator and BlockSink) reading its own
// stream of lines, flush the same buckets; round trips are lost before or
// after they run (unknown outcomes) and retried; processes crash (losing
// their aggregator, pending batch and caches) and resume from the
// checkpoint stored in Redis; compactions are prepared, committed, delayed
// and committed in random order, abandoned between steps, or committed with
// the reply lost. At the end every line has been fed and flushed, and every
// series of every (tier, bucket) read back equals a brute-force sum of the
// lines, exactly — then again after compacting every group.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <random>

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "sink/block_compactor.h"
#include "sink/block_reader.h"
#include "sink/block_sink.h"
#include "sink/sink_internal.h"
#include "sink/standalone_flush.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/lossy_redis.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::Normalize;
using block_test::NormalRollup;
using sink_internal::FloorDiv;
using testing::LossyRedis;
using testing::TestRedis;
using testing::Traffic;
using testing::TrafficLine;

// Around the latest UTC midnight at least 25 minutes ago (within the minute
// tier's 48 h, and crossing a day: two registries, two day buckets).
int64_t WindowMiddle() {
  const int64_t now = SystemClock().NowSeconds();
  int64_t midnight = now / kSecondsPerDay * kSecondsPerDay;
  if (now - midnight < 25 * 60) midnight -= kSecondsPerDay;
  return midnight;
}

// Out-of-order lines over 40 minutes around WindowMiddle(): 12 endpoints,
// 15 customers (one is "anonymous", reserved id 1), some malformed lines.
Traffic MakeStream(std::mt19937_64& rng, size_t n) {
  static const int kStatuses[] = {200, 200, 200, 201, 204, 304, 400, 404, 429, 500, 503};
  Traffic t;
  for (int i = 0; i < 12; ++i) t.endpoints.push_back("GET /e" + std::to_string(i));
  t.customers.push_back("anonymous");
  for (int i = 1; i < 15; ++i) t.customers.push_back("cust" + std::to_string(i));
  t.lines.resize(n);
  const int64_t middle = WindowMiddle();
  std::lognormal_distribution<double> latency(std::log(20000.0), 1.5);
  for (TrafficLine& l : t.lines) {
    l.time_us = (middle - 20 * 60) * kMicrosPerSecond +
                static_cast<int64_t>(rng() % (40 * 60 * kMicrosPerSecond));
    l.rejected = rng() % 40 == 0;
    l.endpoint = static_cast<uint32_t>(rng() % t.endpoints.size());
    l.customer = static_cast<uint32_t>(rng() % t.customers.size());
    l.status = kStatuses[rng() % std::size(kStatuses)];
    l.bytes_in = rng() % 3000;
    l.bytes_out = rng() % 100000;
    l.latency_us = rng() % 10 == 0 ? -1 : static_cast<int64_t>(latency(rng));
  }
  return t;
}

struct SimHost {
  std::string name;
  const Traffic* traffic = nullptr;
  std::unique_ptr<LossyRedis> conn;
  std::unique_ptr<StandaloneFlush> protocol;
  std::unique_ptr<BlockSink> sink;
  std::unique_ptr<Aggregator> agg;
  size_t fed = 0;        // lines handed to the aggregator (or a pending batch)
  size_t committed = 0;  // the checkpoint this process knows is stored
  std::optional<FlushBatch> pending;
  size_t pending_end = 0;
};

class BlockStoreModel {
 public:
  BlockStoreModel(uint64_t seed, SinkOptions options, int hosts, size_t lines_per_host)
      : rng_(seed),
        redis_(TestRedis::Private()),
        keys_(redis_.UniquePrefix("v2model")),
        options_(options),
        reader_(redis_.endpoint()) {
    for (int h = 0; h < hosts; ++h) streams_.push_back(MakeStream(rng_, lines_per_host));
    for (int h = 0; h < hosts; ++h) {
      hosts_.emplace_back();
      hosts_.back().name = "web" + std::to_string(h);
      hosts_.back().traffic = &streams_[h];
      Restart(hosts_.back());
    }
    RestartCompactor();
    for (const auto& stream : streams_) {
      for (const TrafficLine& l : stream.lines) {
        for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
          buckets_.insert({tier, FloorDiv(FloorDiv(l.time_us, kMicrosPerSecond), TierSeconds(tier))});
        }
      }
    }
    for (const auto& [tier, bucket] : buckets_) {
      groups_.push_back({BlockKind::kAll, tier, bucket, 0});
      for (BlockKind kind :
           {BlockKind::kEndpoint, BlockKind::kCustomer, BlockKind::kCustomerEndpoint}) {
        if (kind == BlockKind::kCustomerEndpoint && tier != Tier::kDay) continue;
        for (uint16_t s = 0; s < BlockShards(tier); ++s) groups_.push_back({kind, tier, bucket, s});
      }
    }
  }

  void Step() {
    const uint64_t x = rng_() % 100;
    SimHost& h = hosts_[rng_() % hosts_.size()];
    if (x < 35) {
      Feed(h, 1 + rng_() % 60);
    } else if (x < 70) {
      Flush(h, rng_() % 3 == 0);
    } else if (x < 75) {
      Restart(h);
    } else {
      CompactStep();
    }
  }

  // Feeds and flushes every remaining line, commits the delayed
  // compactions, and compares every bucket with the model; then compacts
  // every group and compares again.
  void FinishAndCheck() {
    for (SimHost& h : hosts_) {
      for (int tries = 0; h.committed < h.traffic->lines.size() || h.pending; ++tries) {
        ASSERT_LT(tries, 100) << h.name << " cannot finish";
        Feed(h, h.traffic->lines.size());
        Flush(h, false);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    std::shuffle(delayed_.begin(), delayed_.end(), rng_);
    for (const PreparedCompaction& p : delayed_) CommitCompaction(p, false);
    delayed_.clear();
    CheckAll("after the sequence");
    BlockCompactor all(&reader_, keys_, options_);
    auto done = all.Compact(groups_);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    for (CompactionOutcome o : *done) EXPECT_EQ(o, CompactionOutcome::kCompacted);
    CheckAll("after compacting every group");
  }

  uint64_t compactions() const { return compactions_; }
  uint64_t lost_races() const { return lost_races_; }
  uint64_t unknown_outcomes() const { return unknown_outcomes_; }

 private:
  void Restart(SimHost& h) {
    h.conn = std::make_unique<LossyRedis>(redis_.endpoint());
    h.protocol = std::make_unique<StandaloneFlush>(h.conn.get(), keys_);
    h.sink = std::make_unique<BlockSink>(h.conn.get(), h.protocol.get(), keys_, options_, &clock_);
    AggregatorOptions ao;
    ao.host = h.name;
    h.agg = std::make_unique<Aggregator>(ao);
    h.pending.reset();
    // Resume from the checkpoint Redis holds, as the agent does.
    auto stored = reader_.Command({"GET", keys_.CheckpointKey(h.name, "log")});
    ASSERT_TRUE(stored.ok());
    h.committed = stored->is_nil() ? 0 : std::stoul(stored->str);
    h.fed = h.committed;
  }

  void RestartCompactor() {
    compactor_conn_ = std::make_unique<LossyRedis>(redis_.endpoint());
    compactor_ = std::make_unique<BlockCompactor>(compactor_conn_.get(), keys_, options_);
  }

  void Feed(SimHost& h, size_t n) {
    const size_t end = std::min(h.traffic->lines.size(), h.fed + n);
    h.traffic->Feed(h.fed, end, h.agg.get());
    h.fed = end;
  }

  void Flush(SimHost& h, bool lose_a_round_trip) {
    if (!h.pending) {
      if (h.fed == h.committed) return;
      FlushBatch b = h.agg->TakeBatch();
      b.id = "batch" + std::to_string(next_batch_++);
      b.host = h.name;
      // "" = no checkpoint stored yet (a flush never stores "0").
      b.checkpoints.push_back({"log", h.committed == 0 ? "" : std::to_string(h.committed),
                               std::to_string(h.fed)});
      h.pending = std::move(b);
      h.pending_end = h.fed;
    }
    if (lose_a_round_trip) {
      h.conn->Arm(static_cast<int>(rng_() % 3),
                  rng_() % 2 ? LossyRedis::Loss::kAfterRun : LossyRedis::Loss::kBeforeSend);
    }
    const Status st = h.sink->Flush(*h.pending);
    h.conn->Disarm();
    if (st.code() == StatusCode::kUnavailable) {
      ++unknown_outcomes_;
      return;  // retried by a later Flush, or lost with a Restart
    }
    ASSERT_TRUE(st.ok()) << h.name << ": " << st.ToString();
    h.committed = h.pending_end;
    h.pending.reset();
    if (rng_() % 4 == 0) {
      // The writer's own compactions, sometimes.
      Status c = h.sink->CompactPending();
      ASSERT_TRUE(c.ok() || c.code() == StatusCode::kUnavailable) << c.ToString();
    }
  }

  void CompactStep() {
    const uint64_t x = rng_() % 10;
    if (x < 2 && !delayed_.empty()) {
      // A compaction prepared earlier commits now (usually it lost the race).
      const size_t i = rng_() % delayed_.size();
      CommitCompaction(delayed_[i], rng_() % 4 == 0);
      delayed_.erase(delayed_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
    if (x == 2) {
      RestartCompactor();  // a crash: whatever it had prepared is gone
      return;
    }
    const BlockGroup& g = groups_[rng_() % groups_.size()];
    auto prepared = compactor_->Prepare({&g, 1});
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    if (!(*prepared)[0]) return;
    if (x < 5) {
      delayed_.push_back(std::move(*(*prepared)[0]));  // commits later, or never
    } else {
      CommitCompaction(*(*prepared)[0], rng_() % 4 == 0);
    }
  }

  void CommitCompaction(const PreparedCompaction& p, bool lose_reply) {
    if (lose_reply) {
      compactor_conn_->Arm(0, rng_() % 2 ? LossyRedis::Loss::kAfterRun
                                         : LossyRedis::Loss::kBeforeSend);
    }
    auto done = compactor_->Commit({&p, 1});
    compactor_conn_->Disarm();
    if (!done.ok()) {
      ASSERT_EQ(done.status().code(), StatusCode::kUnavailable) << done.status().ToString();
      ++unknown_outcomes_;
      if (rng_() % 2) CommitCompaction(p, false);  // try again: safe either way
      return;
    }
    if ((*done)[0] == CompactionOutcome::kCompacted) {
      ++compactions_;
    } else {
      ++lost_races_;
    }
  }

  // The brute-force sums of every line, names refused by the registry as "other".
  std::map<std::pair<Tier, int64_t>, std::map<SeriesName, NormalRollup>> Model() {
    std::map<std::pair<int64_t, NameKind>, std::vector<std::string>> dicts;
    auto stored_name = [&](int64_t day, NameKind kind, const std::string& name) {
      auto& dict = dicts[{day, kind}];
      if (dict.empty()) {
        auto d = ReadNameDictionary(reader_, keys_, day, kind);
        EXPECT_TRUE(d.ok()) << d.status().ToString();
        if (d.ok()) dict = *d;
      }
      return std::find(dict.begin(), dict.end(), name) != dict.end() ? name : "other";
    };
    block_test::BucketSums sums;
    for (size_t h = 0; h < hosts_.size(); ++h) {
      for (const TrafficLine& l : streams_[h].lines) {
        const int64_t day = FloorDiv(FloorDiv(l.time_us, kMicrosPerSecond), kSecondsPerDay);
        block_test::AddLineToSums(
            l, hosts_[h].name,
            stored_name(day, NameKind::kEndpoint, streams_[h].endpoints[l.endpoint]),
            stored_name(day, NameKind::kCustomer, streams_[h].customers[l.customer]), &sums);
      }
    }
    std::map<std::pair<Tier, int64_t>, std::map<SeriesName, NormalRollup>> out;
    for (const auto& [bucket, series] : sums) {
      for (const auto& [name, r] : series) out[bucket][name] = Normalize(r);
    }
    return out;
  }

  void CheckAll(const char* when) {
    SCOPED_TRACE(when);
    const auto model = Model();
    ASSERT_EQ(model.size(), buckets_.size());
    for (const auto& [bucket, want] : model) {
      auto got = ReadBucketSeries(reader_, keys_, bucket.first, bucket.second);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      std::map<SeriesName, NormalRollup> normal;
      for (const auto& [name, r] : *got) normal[name] = Normalize(r);
      EXPECT_EQ(normal.size(), want.size())
          << "tier " << TierLetter(bucket.first) << " bucket " << bucket.second;
      for (const auto& [name, r] : want) {
        auto it = normal.find(name);
        ASSERT_NE(it, normal.end()) << "missing series " << name.name;
        EXPECT_EQ(it->second, r) << "tier " << TierLetter(bucket.first) << " bucket "
                                 << bucket.second << " series " << static_cast<int>(name.kind)
                                 << " '" << name.name << "': requests " << it->second.counters.requests
                                 << " want " << r.counters.requests;
      }
    }
  }

  std::mt19937_64 rng_;
  TestRedis& redis_;
  BlockKeys keys_;
  SinkOptions options_;
  SystemClock clock_;
  RedisClient reader_;
  std::vector<Traffic> streams_;
  std::vector<SimHost> hosts_;
  std::set<std::pair<Tier, int64_t>> buckets_;
  std::vector<BlockGroup> groups_;
  std::unique_ptr<LossyRedis> compactor_conn_;
  std::unique_ptr<BlockCompactor> compactor_;
  std::vector<PreparedCompaction> delayed_;
  uint64_t next_batch_ = 0;
  uint64_t compactions_ = 0, lost_races_ = 0, unknown_outcomes_ = 0;
};

void RunSequences(const SinkOptions& options, int sequences, int steps) {
  uint64_t compactions = 0, lost = 0, unknown = 0;
  for (int seq = 0; seq < sequences; ++seq) {
    SCOPED_TRACE("seed " + std::to_string(seq));
    BlockStoreModel model(static_cast<uint64_t>(seq) * 7919 + 1, options, 3, 500);
    for (int i = 0; i < steps; ++i) {
      model.Step();
      ASSERT_FALSE(::testing::Test::HasFatalFailure());
    }
    model.FinishAndCheck();
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    compactions += model.compactions();
    lost += model.lost_races();
    unknown += model.unknown_outcomes();
  }
  // A sequence that never raced or lost a reply would not test much.
  EXPECT_GT(compactions, 0u);
  EXPECT_GT(lost, 0u);
  EXPECT_GT(unknown, 0u);
  std::printf("%d sequences: %lu compactions, %lu lost races, %lu unknown outcomes\n", sequences,
              static_cast<unsigned long>(compactions), static_cast<unsigned long>(lost),
              static_cast<unsigned long>(unknown));
}

// Fewer seeds under the sanitizers (10x slower); the same shapes.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSeeds = 4;
#else
constexpr int kSeeds = 12;
#endif

TEST(BlockStoreModelTest, EverySeriesEqualsTheSumOfItsLines) {
  RunSequences(SinkOptions{}, kSeeds, 300);
}

TEST(BlockStoreModelTest, EverySeriesEqualsTheSumOfItsLinesWhenNamesOverflowToOther) {
  SinkOptions small;
  small.endpoints_per_day = 5;
  small.customers_per_day = 6;
  RunSequences(small, kSeeds / 2, 300);
}

}  // namespace
}  // namespace apimeter

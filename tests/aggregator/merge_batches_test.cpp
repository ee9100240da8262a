// MergeFlushBatches: the batches of aggregators that each saw part of the
// lines add up to the batch of one aggregator that saw them all.
#include "aggregator/merge_batches.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "aggregator/aggregator.h"

namespace apimeter {
namespace {

constexpr int64_t kUs = 1000000;

// Everything a rollup holds, in a comparable form.
std::string Describe(const Rollup& r) {
  std::string s = std::to_string(r.requests) + " " + std::to_string(r.bytes_in) + " " +
                  std::to_string(r.bytes_out) + " " + std::to_string(r.latency_count) + " " +
                  std::to_string(r.latency_sum_us) + " " + std::to_string(r.latency_max_us) +
                  " " + std::to_string(r.rejected) + " |";
  auto statuses = r.status_counts;
  std::sort(statuses.begin(), statuses.end());
  for (auto [code, n] : statuses) s += " " + std::to_string(code) + ":" + std::to_string(n);
  s += " |";
  r.histogram.ForEachBucket(
      [&](int i, uint64_t n) { s += " " + std::to_string(i) + ":" + std::to_string(n); });
  return s;
}

std::vector<std::string> Describe(const FlushBatch& b) {
  std::vector<std::string> out;
  for (const SeriesDelta& d : b.series) {
    out.push_back(std::to_string(static_cast<int>(d.tier)) + " " + std::to_string(d.bucket) +
                  " " + std::to_string(static_cast<int>(d.kind)) + " " + d.name + " = " +
                  Describe(d.rollup));
  }
  return out;
}

TEST(MergeFlushBatchesTest, PartsAddUpToOneAggregatorOverEveryLine) {
  AggregatorOptions options;
  options.host = "h";
  options.slow_top_n = 5;
  Aggregator whole(options);
  std::deque<Aggregator> parts;  // no moves: an aggregator stays where it is built
  for (int i = 0; i < 3; ++i) parts.emplace_back(options);
  std::mt19937 rng(7);
  const int64_t start = 1795687200LL * kUs;  // 2026-11-26T10:00Z
  for (int i = 0; i < 20000; ++i) {
    // Over two UTC days, in runs of 97 lines per part, as a backfill's lanes get them.
    const int64_t t = start + static_cast<int64_t>(i) * 9 * kUs + rng() % kUs;
    Aggregator& part = parts[(i / 97) % parts.size()];
    if (rng() % 50 == 0) {
      whole.AddRejected(t);
      part.AddRejected(t);
      continue;
    }
    LogRecord r;
    r.time_us = t;
    r.status = rng() % 8 == 0 ? 500 : 200;
    r.latency_us = static_cast<int64_t>(rng() % 2000000);
    r.bytes_in = rng() % 1000;
    r.bytes_out = rng() % 100000;
    const std::string endpoint = "GET /v1/e" + std::to_string(rng() % 30);
    const std::string customer = "c" + std::to_string(rng() % 50);
    whole.Add(r, endpoint, customer);
    part.Add(r, endpoint, customer);
  }
  FlushBatch expected = whole.TakeBatch();
  std::vector<FlushBatch> batches;
  for (Aggregator& a : parts) batches.push_back(a.TakeBatch());
  FlushBatch merged = MergeFlushBatches(std::move(batches));

  EXPECT_EQ(Describe(merged), Describe(expected));
  EXPECT_EQ(merged.lines, expected.lines);
  // Every candidate the whole aggregator kept is among the merged ones, in
  // its order: the sink's top N per day is then the same.
  std::vector<std::pair<int64_t, int64_t>> kept, offered;
  for (const SlowRequest& s : expected.slow) kept.emplace_back(s.time_us, s.latency_us);
  for (const SlowRequest& s : merged.slow) offered.emplace_back(s.time_us, s.latency_us);
  ASSERT_GE(offered.size(), kept.size());
  size_t at = 0;
  for (const auto& k : kept) {
    while (at < offered.size() && offered[at] != k) ++at;
    ASSERT_LT(at, offered.size()) << "slow request missing or out of order";
  }
}

TEST(MergeFlushBatchesTest, OneBatchIsUnchangedAndNoneIsEmpty) {
  EXPECT_TRUE(MergeFlushBatches({}).Empty());
  AggregatorOptions options;
  Aggregator a(options);
  LogRecord r;
  r.time_us = 1795687200LL * kUs;
  r.status = 200;
  a.Add(r, "GET /x", "c");
  FlushBatch b = a.TakeBatch();
  const auto before = Describe(b);
  std::vector<FlushBatch> one;
  one.push_back(std::move(b));
  EXPECT_EQ(Describe(MergeFlushBatches(std::move(one))), before);
}

}  // namespace
}  // namespace apimeter

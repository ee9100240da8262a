// CompactRollup: TakeRollup equals the Rollup built by AddRequestInBucket from
// the same requests, through every spill path (more statuses or buckets than
// fit inline, full 16-bit counters, statuses outside uint16), and the heap
// bytes it reports match what it owns.
#include "aggregator/compact_rollup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

namespace apimeter::aggregator_internal {
namespace {

auto Canon(const Rollup& r) {
  auto statuses = r.status_counts;
  std::sort(statuses.begin(), statuses.end());
  std::vector<std::pair<int, uint64_t>> buckets;
  r.histogram.ForEachBucket([&](int i, uint64_t n) { buckets.emplace_back(i, n); });
  return std::make_tuple(r.requests, r.bytes_in, r.bytes_out, r.latency_count, r.latency_sum_us,
                         r.latency_max_us, r.rejected, statuses, buckets, r.histogram.Count());
}

struct Case {
  int distinct_statuses;
  int64_t max_latency;  // latencies uniform in [0, max]; -1 entries mixed in
  int requests;
};

class CompactRollupTest : public ::testing::TestWithParam<Case> {};

TEST_P(CompactRollupTest, EqualsRollupOfTheSameRequests) {
  const Case c = GetParam();
  std::mt19937_64 rng(c.requests * 31 + c.distinct_statuses);
  const int odd[] = {-7, 0, 65535, 65536, 1 << 30};
  CompactRollup compact;
  Rollup expected;
  size_t heap = 0;
  for (int i = 0; i < c.requests; ++i) {
    const int k = static_cast<int>(rng() % c.distinct_statuses);
    const int status = k < 5 && c.distinct_statuses > 12 ? odd[k] : 200 + k;
    const int64_t latency = rng() % 8 == 0 ? -1 : static_cast<int64_t>(rng() % (c.max_latency + 1));
    const int bucket = latency >= 0 ? LatencyHistogram::BucketIndex(latency) : 0;
    const uint64_t in = rng() % 5000, out = rng() % 50000;
    compact.Add(status, in, out, latency, bucket, &heap);
    expected.AddRequestInBucket(status, in, out, latency, bucket);
    if (i % 97 == 0) {
      compact.AddRejected();
      ++expected.rejected;
    }
    ASSERT_EQ(heap, compact.HeapBytes());
  }
  EXPECT_EQ(Canon(compact.TakeRollup()), Canon(expected));
  EXPECT_EQ(compact.HeapBytes(), 0u);
  EXPECT_EQ(Canon(compact.TakeRollup()), Canon(Rollup{}));  // empty after the take
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CompactRollupTest,
    ::testing::Values(Case{1, 0, 1},            // one request
                      Case{3, 5, 50},           // few buckets: stays inline
                      Case{8, 100, 500},        // exactly the inline statuses
                      Case{9, 100, 500},        // one status spills
                      Case{20, 3000000, 2000},  // odd statuses, wide histogram goes dense
                      Case{2, 0, 200000},       // one bucket past the 16-bit counter
                      Case{1, 2, 140000}));     // one status past the counter, twice

TEST(CompactRollupTest, IsTwoCacheLinesWithNoHeapWhenSmall) {
  EXPECT_EQ(sizeof(CompactRollup), 128u);
  CompactRollup c;
  size_t heap = 0;
  for (int i = 0; i < 1000; ++i)
    c.Add(200 + i % 8, 1, 1, 1000 * (1 + i % 7), LatencyHistogram::BucketIndex(1000 * (1 + i % 7)),
          &heap);
  EXPECT_EQ(heap, 0u);
  EXPECT_EQ(c.HeapBytes(), 0u);
}

}  // namespace
}  // namespace apimeter::aggregator_internal

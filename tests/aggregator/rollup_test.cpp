// Rollup: merge is exact addition (max for latency_max_us): commutative,
// associative, has the empty rollup as identity, and equals adding the
// union of the requests.
#include "aggregator/rollup.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

namespace apimeter {
namespace {

struct Req {
  int status;
  uint64_t in, out;
  int64_t latency;
};

std::vector<Req> RandomRequests(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<Req> v;
  const int statuses[] = {200, 201, 204, 301, 400, 404, 429, 500, 503};
  for (int i = 0; i < n; ++i) {
    int64_t latency = rng() % 10 == 0 ? -1 : static_cast<int64_t>(rng() % 5000000);
    v.push_back({statuses[rng() % 9], rng() % 10000, rng() % 100000, latency});
  }
  return v;
}

Rollup Build(const std::vector<Req>& reqs) {
  Rollup r;
  for (const Req& q : reqs) r.AddRequest(q.status, q.in, q.out, q.latency);
  return r;
}

// Canonical form for comparison (status list order is not part of the value).
auto Canon(const Rollup& r) {
  auto statuses = r.status_counts;
  std::sort(statuses.begin(), statuses.end());
  std::vector<std::pair<int, uint64_t>> buckets;
  r.histogram.ForEachBucket([&](int i, uint64_t n) { buckets.emplace_back(i, n); });
  return std::make_tuple(r.requests, r.bytes_in, r.bytes_out, r.latency_count, r.latency_sum_us,
                         r.latency_max_us, r.rejected, statuses, buckets);
}

TEST(RollupTest, AddRequestCountsEveryField) {
  Rollup r;
  r.AddRequest(200, 10, 100, 1500);
  r.AddRequest(404, 20, 200, -1);
  r.AddRequest(200, 30, 300, 500);
  EXPECT_EQ(r.requests, 3u);
  EXPECT_EQ(r.bytes_in, 60u);
  EXPECT_EQ(r.bytes_out, 600u);
  EXPECT_EQ(r.latency_count, 2u);
  EXPECT_EQ(r.latency_sum_us, 2000u);
  EXPECT_EQ(r.latency_max_us, 1500);
  EXPECT_EQ(r.StatusCount(200), 2u);
  EXPECT_EQ(r.StatusCount(404), 1u);
  EXPECT_EQ(r.StatusRange(400, 499), 1u);
  EXPECT_EQ(r.histogram.Count(), 2u);
}

TEST(RollupTest, AddRequestInBucketEqualsAddRequest) {
  Rollup a, b;
  for (const Req& q : RandomRequests(9, 500)) {
    a.AddRequest(q.status, q.in, q.out, q.latency);
    b.AddRequestInBucket(q.status, q.in, q.out, q.latency,
                         q.latency >= 0 ? LatencyHistogram::BucketIndex(q.latency) : 0);
  }
  EXPECT_EQ(Canon(a), Canon(b));
}

TEST(RollupTest, MergeLaws) {
  const auto ra = RandomRequests(1, 300), rb = RandomRequests(2, 50), rc = RandomRequests(3, 700);
  const Rollup a = Build(ra), b = Build(rb), c = Build(rc);

  Rollup ab = a;  // commutative
  ab.Merge(b);
  Rollup ba = b;
  ba.Merge(a);
  EXPECT_EQ(Canon(ab), Canon(ba));

  Rollup ab_c = ab;  // associative
  ab_c.Merge(c);
  Rollup bc = b;
  bc.Merge(c);
  Rollup a_bc = a;
  a_bc.Merge(bc);
  EXPECT_EQ(Canon(ab_c), Canon(a_bc));

  Rollup a_empty = a;  // identity
  a_empty.Merge(Rollup{});
  EXPECT_EQ(Canon(a_empty), Canon(a));
  Rollup empty_a;
  empty_a.Merge(a);
  EXPECT_EQ(Canon(empty_a), Canon(a));

  std::vector<Req> all = ra;  // equals the rollup of the union
  all.insert(all.end(), rb.begin(), rb.end());
  all.insert(all.end(), rc.begin(), rc.end());
  EXPECT_EQ(Canon(ab_c), Canon(Build(all)));
}

TEST(RollupTest, RejectedMergesAndMemoryIsCounted) {
  Rollup a, b;
  a.rejected = 2;
  b.rejected = 3;
  a.Merge(b);
  EXPECT_EQ(a.rejected, 5u);
  EXPECT_FALSE(a.Empty());
  EXPECT_EQ(a.latency_max_us, -1);
  const size_t before = a.MemoryBytes();
  a.AddRequest(200, 0, 0, 100);
  EXPECT_GT(a.MemoryBytes(), before);
}

}  // namespace
}  // namespace apimeter

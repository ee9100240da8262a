// LatencyHistogram: the fast BucketIndex equals the defining formula, bucket
// edge cases, and percentile accuracy (<= 1% relative error against exact
// nearest-rank) on several distributions, alone and merged from many parts.
#include "aggregator/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace apimeter {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

TEST(BucketIndexTest, EqualsReferenceExhaustivelyOnSmallValues) {
  for (int64_t x = -1000; x <= (int64_t{1} << 22); ++x) {
    ASSERT_EQ(LatencyHistogram::BucketIndex(x), LatencyHistogram::BucketIndexReference(x))
        << "x=" << x;
  }
}

// Around every bucket boundary (found by binary search on the reference).
TEST(BucketIndexTest, EqualsReferenceAroundEveryBoundary) {
  int boundaries = 0;
  for (int i = 1; i < LatencyHistogram::kMaxIndex; ++i) {
    if (LatencyHistogram::BucketIndexReference(kInt64Max) <= i) break;
    int64_t lo = 0, hi = kInt64Max;  // ref(lo) <= i < ref(hi)
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      (LatencyHistogram::BucketIndexReference(mid) <= i ? lo : hi) = mid;
    }
    ++boundaries;
    for (int64_t x = std::max<int64_t>(0, lo - 64); x <= lo + 64 && x > 0; ++x) {
      ASSERT_EQ(LatencyHistogram::BucketIndex(x), LatencyHistogram::BucketIndexReference(x))
          << "x=" << x << " boundary of bucket " << i;
    }
  }
  EXPECT_GT(boundaries, 1300);
}

TEST(BucketIndexTest, EqualsReferenceOnRandomValuesOverTheWholeRange) {
  std::mt19937_64 rng(42);
  for (int n = 0; n < 2000000; ++n) {
    const int bits = static_cast<int>(rng() % 63) + 1;
    const int64_t x = static_cast<int64_t>(rng() >> (64 - bits));
    ASSERT_EQ(LatencyHistogram::BucketIndex(x), LatencyHistogram::BucketIndexReference(x))
        << "x=" << x;
  }
}

TEST(BucketIndexTest, EdgeCases) {
  EXPECT_EQ(LatencyHistogram::BucketIndex(0), 0);
  EXPECT_EQ(LatencyHistogram::BucketIndex(-1), 0);
  EXPECT_EQ(LatencyHistogram::BucketIndex(std::numeric_limits<int64_t>::min()), 0);
  EXPECT_EQ(LatencyHistogram::BucketIndex(1), 1);   // not the zero bucket
  EXPECT_EQ(LatencyHistogram::BucketIndex(2), 35);  // ceil(ln 2 / ln γ) = ceil(34.66)
  EXPECT_EQ(LatencyHistogram::BucketIndex(kInt64Max), LatencyHistogram::kMaxIndex);
  EXPECT_EQ(LatencyHistogram::BucketIndex(int64_t{1} << 45), LatencyHistogram::kMaxIndex);
  EXPECT_LT(LatencyHistogram::BucketIndex(int64_t{1} << 40), LatencyHistogram::kMaxIndex);
  EXPECT_EQ(LatencyHistogram::BucketValue(0), 0.0);
  EXPECT_EQ(LatencyHistogram::BucketValue(-3), 0.0);
}

// BucketValue is within 1% of every integer in its bucket (below the clamp);
// 1 µs sits exactly on the edge of bucket 1, so allow for rounding there.
TEST(BucketIndexTest, BucketValueIsWithinOnePercent) {
  for (int64_t x : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{99}, int64_t{100}, int64_t{101},
                    int64_t{999999}, int64_t{1000000}, int64_t{123456789}, int64_t{1} << 39}) {
    const double v = LatencyHistogram::BucketValue(LatencyHistogram::BucketIndex(x));
    EXPECT_LE(std::abs(v - static_cast<double>(x)) / static_cast<double>(x), 0.01 + 1e-12) << x;
  }
}

TEST(LatencyHistogramTest, AddBucketClampsIndexAndSkipsZeroCounts) {
  LatencyHistogram h;
  h.AddBucket(-5, 1);
  h.AddBucket(5000, 2);
  h.AddBucket(7, 0);
  std::vector<std::pair<int, uint64_t>> got;
  h.ForEachBucket([&](int i, uint64_t n) { got.emplace_back(i, n); });
  EXPECT_EQ(got, (std::vector<std::pair<int, uint64_t>>{{0, 1}, {LatencyHistogram::kMaxIndex, 2}}));
  EXPECT_EQ(h.Count(), 3u);
}

TEST(LatencyHistogramTest, HugeCountsStayExact) {
  LatencyHistogram h;
  const uint64_t big = uint64_t{1} << 60;
  h.AddBucket(10, big);
  h.AddBucket(10, big);
  h.AddBucket(3, 1);
  std::map<int, uint64_t> got;
  h.ForEachBucket([&](int i, uint64_t n) { got[i] = n; });
  EXPECT_EQ(got, (std::map<int, uint64_t>{{3, 1}, {10, 2 * big}}));
}

// Random adds and merges against a std::map model, crossing the sparse/dense switch.
TEST(LatencyHistogramTest, MatchesModelThroughSparseAndDenseForms) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    LatencyHistogram a, b;
    std::map<int, uint64_t> model;
    const int adds_a = static_cast<int>(rng() % 80), adds_b = static_cast<int>(rng() % 80);
    const int spread = 1 + static_cast<int>(rng() % 1400);
    for (int k = 0; k < adds_a; ++k) {
      int i = static_cast<int>(rng() % spread);
      uint64_t n = 1 + rng() % 5;
      a.AddBucket(i, n);
      model[i] += n;
    }
    for (int k = 0; k < adds_b; ++k) {
      int i = static_cast<int>(rng() % spread);
      uint64_t n = 1 + rng() % 5;
      b.AddBucket(i, n);
      model[i] += n;
    }
    LatencyHistogram copy = a;
    copy.Merge(b);
    std::map<int, uint64_t> got;
    uint64_t total = 0;
    copy.ForEachBucket([&](int i, uint64_t n) {
      EXPECT_TRUE(got.empty() || got.rbegin()->first < i) << "ascending order";
      got[i] = n;
      total += n;
    });
    ASSERT_EQ(got, model) << "round " << round;
    ASSERT_EQ(copy.Count(), total);
    ASSERT_EQ(copy.NonEmptyBuckets(), static_cast<int>(model.size()));
  }
}

TEST(LatencyHistogramTest, ClearEmptiesAndFreesMemory) {
  LatencyHistogram h;
  for (int64_t x = 1; x < 100000; x += 37) h.Add(x);
  EXPECT_GT(h.MemoryBytes(), sizeof(LatencyHistogram));
  h.Clear();
  EXPECT_TRUE(h.Empty());
  EXPECT_EQ(h.MemoryBytes(), sizeof(LatencyHistogram));
  EXPECT_FALSE(h.PercentileMicros(50).has_value());
}

double ExactNearestRank(std::vector<int64_t> sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

void ExpectAccurate(const LatencyHistogram& h, std::vector<int64_t> values, const char* what) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.Count(), values.size());
  for (double p : {50.0, 90.0, 95.0, 99.0, 99.9}) {
    const double exact = ExactNearestRank(values, p);
    const double got = *h.PercentileMicros(p);
    EXPECT_LE(std::abs(got - exact), 0.01 * exact)
        << what << " p" << p << " exact " << exact << " got " << got;
  }
}

enum class Dist { kUniform, kLogNormal, kPareto };

std::vector<int64_t> Sample(Dist d, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> uniform(0, 2000000);
  std::lognormal_distribution<double> lognormal(std::log(20000.0), 1.0);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::vector<int64_t> v(n);
  for (auto& x : v) {
    switch (d) {
      case Dist::kUniform:
        x = uniform(rng);
        break;
      case Dist::kLogNormal:
        x = static_cast<int64_t>(lognormal(rng));
        break;
      // Pareto, x_m = 1 ms, alpha = 1.1: a heavy tail reaching minutes.
      case Dist::kPareto:
        x = static_cast<int64_t>(1000.0 / std::pow(1.0 - u01(rng), 1.0 / 1.1));
        break;
    }
  }
  return v;
}

class HistogramAccuracyTest : public ::testing::TestWithParam<Dist> {};

TEST_P(HistogramAccuracyTest, SingleHistogramWithinOnePercent) {
  std::vector<int64_t> values = Sample(GetParam(), 200000, 1);
  LatencyHistogram h;
  for (int64_t x : values) h.Add(x);
  ExpectAccurate(h, values, "single");
}

// 40 hosts x 60 minutes of small histograms, merged in a shuffled order.
TEST_P(HistogramAccuracyTest, MergeOfManySmallHistogramsWithinOnePercent) {
  std::vector<int64_t> values = Sample(GetParam(), 120000, 2);
  std::vector<LatencyHistogram> parts(40 * 60);
  for (size_t i = 0; i < values.size(); ++i) parts[(i * 7919) % parts.size()].Add(values[i]);
  std::shuffle(parts.begin(), parts.end(), std::mt19937_64(3));
  LatencyHistogram merged, direct;
  for (const auto& p : parts) merged.Merge(p);
  for (int64_t x : values) direct.Add(x);
  ExpectAccurate(merged, values, "merged");
  std::vector<std::pair<int, uint64_t>> a, b;
  merged.ForEachBucket([&](int i, uint64_t n) { a.emplace_back(i, n); });
  direct.ForEachBucket([&](int i, uint64_t n) { b.emplace_back(i, n); });
  EXPECT_EQ(a, b) << "merging is exact";
}

INSTANTIATE_TEST_SUITE_P(Distributions, HistogramAccuracyTest,
                         ::testing::Values(Dist::kUniform, Dist::kLogNormal, Dist::kPareto));

TEST(LatencyHistogramTest, PercentileOfSingleValueAndClampedP) {
  LatencyHistogram h;
  h.Add(1234);
  EXPECT_NEAR(*h.PercentileMicros(50), 1234, 12.34);
  EXPECT_NEAR(*h.PercentileMicros(0), 1234, 12.34);
  EXPECT_NEAR(*h.PercentileMicros(250), 1234, 12.34);
  h.Add(0);
  EXPECT_EQ(*h.PercentileMicros(50), 0.0);
}

}  // namespace
}  // namespace apimeter

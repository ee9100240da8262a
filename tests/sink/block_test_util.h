// Random series for the block tests: rollups of the shapes a block must hold
// (ordinary traffic, no latency, counts near 2^63, hundreds of statuses,
// histogram indexes 0 and kMaxIndex) and keys of every kind, plus a
// normalized form of a Rollup to compare them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "aggregator/rollup.h"
#include "sink/block.h"
#include "sink/block_reader.h"
#include "sink/sink_internal.h"
#include "tests/sink/realistic_traffic.h"

namespace apimeter::block_test {

// A Rollup with its statuses sorted and its histogram as a bucket list, so
// two rollups with the same content compare equal.
struct NormalRollup {
  SeriesCounters counters;
  std::vector<std::pair<int, uint64_t>> statuses;
  std::vector<std::pair<int, uint64_t>> buckets;
  friend bool operator==(const NormalRollup&, const NormalRollup&) = default;
};

inline NormalRollup Normalize(const Rollup& r) {
  NormalRollup n;
  n.counters = {r.requests,       r.bytes_in,       r.bytes_out, r.latency_count,
                r.latency_sum_us, r.latency_max_us, r.rejected};
  for (const auto& [code, count] : r.status_counts) {
    if (count != 0) n.statuses.emplace_back(code, count);
  }
  std::sort(n.statuses.begin(), n.statuses.end());
  r.histogram.ForEachBucket([&](int i, uint64_t c) { n.buckets.emplace_back(i, c); });
  return n;
}

enum class Shape { kTraffic, kNoLatency, kHuge, kManyStatuses, kExtremeBuckets };

inline Rollup RandomRollup(std::mt19937_64& rng, Shape shape, bool with_rejected) {
  Rollup r;
  static const int kStatuses[] = {200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 429, 500, 503};
  auto pick = [&](uint64_t n) { return rng() % n; };
  switch (shape) {
    case Shape::kTraffic:
    case Shape::kNoLatency: {
      std::lognormal_distribution<double> latency(std::log(20000.0), 1.5);
      const uint64_t n = 1 + pick(pick(4) == 0 ? 300 : 5);
      for (uint64_t i = 0; i < n; ++i) {
        const bool has_latency = shape == Shape::kTraffic && pick(10) != 0;
        r.AddRequest(kStatuses[pick(std::size(kStatuses))], pick(2000), pick(50000),
                     has_latency ? static_cast<int64_t>(latency(rng)) : -1);
      }
      break;
    }
    case Shape::kHuge: {
      // Counts near 2^63 that still sum (statuses, buckets) without overflow.
      const uint64_t top = (uint64_t{1} << 63) - 1 - pick(1000);
      r.requests = top;
      r.bytes_in = ~uint64_t{0} - pick(10);
      r.bytes_out = ~uint64_t{0};
      const uint64_t first = top / 3;
      r.AddStatus(200, first);
      r.AddStatus(500, top - first);
      r.latency_count = top - pick(5);
      r.latency_sum_us = ~uint64_t{0} - pick(3);
      r.latency_max_us = INT64_MAX;
      r.histogram.AddBucket(0, 1);
      r.histogram.AddBucket(LatencyHistogram::kMaxIndex, r.latency_count - 1);
      break;
    }
    case Shape::kManyStatuses: {
      for (int code = 0; code <= kMaxStatusCode; code += 1 + static_cast<int>(pick(3))) {
        r.AddRequest(code, 1, 1, pick(2) ? static_cast<int64_t>(pick(1000000)) : -1);
      }
      break;
    }
    case Shape::kExtremeBuckets: {
      r.AddRequest(200, 0, 0, 0);                       // bucket 0
      r.AddRequest(200, 0, 0, int64_t{1} << 45);        // clamped to kMaxIndex
      r.AddRequest(404, 0, 0, 1);                       // bucket 1
      r.AddRequest(404, 0, 0, (int64_t{1} << 40) - 1);  // just below kMaxIndex
      break;
    }
  }
  if (with_rejected) r.rejected = pick(3) == 0 ? pick(100) : 0;
  return r;
}

inline Shape RandomShape(std::mt19937_64& rng) {
  const uint64_t x = rng() % 20;
  if (x < 14) return Shape::kTraffic;
  if (x < 16) return Shape::kNoLatency;
  if (x < 17) return Shape::kHuge;
  if (x < 18) return Shape::kManyStatuses;
  return Shape::kExtremeBuckets;
}

// A key of `kind`; `spread` bounds the ids (small spreads make keys collide).
inline SeriesKey RandomKey(std::mt19937_64& rng, BlockKind kind, uint64_t spread) {
  auto id = [&]() -> uint32_t {
    if (rng() % 50 == 0) return static_cast<uint32_t>(kMaxIdKey - rng() % 3);  // near 2^32
    return static_cast<uint32_t>(rng() % spread);
  };
  switch (kind) {
    case BlockKind::kAll:
      return rng() % 8 == 0 ? kAllSeriesKey : HostSeriesKey(static_cast<uint32_t>(rng() % spread));
    case BlockKind::kCustomerEndpoint:
      return PairKey(id(), id());
    default:
      return id();
  }
}

// Random series of one kind, possibly with repeated keys, and their sum per
// key computed with Rollup::Merge (the reference a block must match).
struct RandomSeries {
  std::vector<SeriesKey> keys;
  std::vector<Rollup> rollups;

  std::vector<KeyedRollup> Refs() const {
    std::vector<KeyedRollup> out;
    for (size_t i = 0; i < keys.size(); ++i) out.push_back({keys[i], &rollups[i]});
    return out;
  }
  std::map<SeriesKey, Rollup> Summed() const {
    std::map<SeriesKey, Rollup> sum;
    for (size_t i = 0; i < keys.size(); ++i) sum[keys[i]].Merge(rollups[i]);
    return sum;
  }
};

// With `unique` keys, some series have counts near 2^63 (their sums with
// another series would overflow, so repeated keys get ordinary counts).
inline RandomSeries MakeRandomSeries(std::mt19937_64& rng, BlockKind kind, size_t count,
                                     uint64_t spread, bool unique) {
  RandomSeries s;
  std::set<SeriesKey> seen;
  for (size_t i = 0; i < count; ++i) {
    Shape shape = RandomShape(rng);
    if (!unique && shape == Shape::kHuge) shape = Shape::kTraffic;
    SeriesKey key = RandomKey(rng, kind, spread);
    while (unique && !seen.insert(key).second) key = RandomKey(rng, kind, spread);
    s.keys.push_back(key);
    s.rollups.push_back(RandomRollup(rng, shape, kind == BlockKind::kAll));
  }
  return s;
}

inline constexpr BlockKind kAllKinds[] = {BlockKind::kAll, BlockKind::kEndpoint,
                                          BlockKind::kCustomer, BlockKind::kCustomerEndpoint};

// (tier, bucket) -> series -> the brute-force sum of its lines.
using BucketSums = std::map<std::pair<Tier, int64_t>, std::map<SeriesName, Rollup>>;

// Adds line `l`, logged by `host` with its endpoint and customer stored as
// `ep` and `cu`, to every series it counts in: all and host (a rejected
// line only there), endpoint, customer, and the pair in the day tier.
inline void AddLineToSums(const testing::TrafficLine& l, const std::string& host,
                          const std::string& ep, const std::string& cu, BucketSums* sums) {
  const int64_t t = sink_internal::FloorDiv(l.time_us, kMicrosPerSecond);
  for (Tier tier : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    auto& bucket = (*sums)[{tier, sink_internal::FloorDiv(t, TierSeconds(tier))}];
    std::vector<SeriesName> names{{SeriesKind::kAll, ""}, {SeriesKind::kHost, host}};
    if (!l.rejected) {
      names.push_back({SeriesKind::kEndpoint, ep});
      names.push_back({SeriesKind::kCustomer, cu});
      if (tier == Tier::kDay) {
        names.push_back({SeriesKind::kCustomerEndpoint, cu + kNameSeparator + ep});
      }
    }
    for (const SeriesName& n : names) {
      Rollup& r = bucket[n];
      if (l.rejected) {
        ++r.rejected;
      } else {
        r.AddRequest(l.status, l.bytes_in, l.bytes_out, l.latency_us);
      }
    }
  }
}

}  // namespace apimeter::block_test

// Rollup: everything apimeter keeps about a set of requests in one series and
// one time bucket — counts by status, bytes, latency sum/count/max and the
// latency histogram.
//
// Promise: Merge is exact addition (max for latency_max_us), so rollups of
// many hosts, minutes or flushes combine into the rollup of their union. The
// same struct is written by the aggregator and read back by the query layer.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "aggregator/latency_histogram.h"

namespace apimeter {

struct Rollup {
  uint64_t requests = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t latency_count = 0;   // requests that had a latency value
  uint64_t latency_sum_us = 0;  // sum of those latencies
  int64_t latency_max_us = -1;  // -1: no latency seen
  uint64_t rejected = 0;        // malformed lines (all / host series only)
  // (status, count) pairs, unsorted; a series sees few distinct statuses.
  std::vector<std::pair<int, uint64_t>> status_counts;
  LatencyHistogram histogram;
  // First and last minute (epoch minute numbers) with a request, kept only by
  // series that track them (customer × endpoint per day; issue 18).
  // "Unknown" (first > last: the defaults) for every other series, and for
  // a sum that includes a part with requests but unknown minutes (data
  // written before they were tracked): Merge never invents a minute.
  static constexpr int64_t kNoMinute = INT64_MAX;
  int64_t first_seen_minute = kNoMinute;
  int64_t last_seen_minute = INT64_MIN;

  void AddRequest(int status, uint64_t bytes_in, uint64_t bytes_out, int64_t latency_us);
  // AddRequest with the latency's histogram bucket already computed
  // (bucket == LatencyHistogram::BucketIndex(latency_us)); lets a caller that
  // updates several series compute it once. Ignored when latency_us < 0.
  void AddRequestInBucket(int status, uint64_t bytes_in, uint64_t bytes_out, int64_t latency_us,
                          int bucket);
  void AddStatus(int status, uint64_t count);
  void Merge(const Rollup& other);

  uint64_t StatusCount(int status) const;
  // Requests whose status is in [lo, hi], e.g. (400, 499) for 4xx.
  uint64_t StatusRange(int lo, int hi) const;
  bool Empty() const { return requests == 0 && rejected == 0; }
  bool SeenKnown() const { return first_seen_minute <= last_seen_minute; }
  // Records a request in `minute` for first/last seen (the counters are
  // added separately, by AddRequest).
  void SeeMinute(int64_t minute) {
    first_seen_minute = first_seen_minute < minute ? first_seen_minute : minute;
    last_seen_minute = last_seen_minute > minute ? last_seen_minute : minute;
  }
  // Heap bytes plus the object itself; O(1).
  size_t MemoryBytes() const {
    return sizeof(*this) - sizeof(histogram) + histogram.MemoryBytes() +
           status_counts.capacity() * sizeof(status_counts[0]);
  }
};

}  // namespace apimeter

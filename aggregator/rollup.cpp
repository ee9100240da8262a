#include "aggregator/rollup.h"

#include <algorithm>

namespace apimeter {

void Rollup::AddStatus(int status, uint64_t count) {
  for (auto& [s, n] : status_counts) {
    if (s == status) {
      n += count;
      return;
    }
  }
  status_counts.emplace_back(status, count);
}

void Rollup::AddRequest(int status, uint64_t in, uint64_t out, int64_t latency_us) {
  AddRequestInBucket(status, in, out, latency_us,
                     latency_us >= 0 ? LatencyHistogram::BucketIndex(latency_us) : 0);
}

void Rollup::AddRequestInBucket(int status, uint64_t in, uint64_t out, int64_t latency_us,
                                int bucket) {
  ++requests;
  bytes_in += in;
  bytes_out += out;
  AddStatus(status, 1);
  if (latency_us >= 0) {
    ++latency_count;
    latency_sum_us += static_cast<uint64_t>(latency_us);
    latency_max_us = std::max(latency_max_us, latency_us);
    histogram.AddBucket(bucket, 1);
  }
}

void Rollup::Merge(const Rollup& o) {
  // Seen minutes: min / max when both sides know theirs; a side with
  // requests but no minutes makes the sum unknown. (Before the counts.)
  const bool mine = requests == 0 || SeenKnown(), theirs = o.requests == 0 || o.SeenKnown();
  if (mine && theirs) {
    first_seen_minute = std::min(first_seen_minute, o.first_seen_minute);
    last_seen_minute = std::max(last_seen_minute, o.last_seen_minute);
  } else {
    first_seen_minute = kNoMinute;
    last_seen_minute = INT64_MIN;
  }
  requests += o.requests;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  latency_count += o.latency_count;
  latency_sum_us += o.latency_sum_us;
  latency_max_us = std::max(latency_max_us, o.latency_max_us);
  rejected += o.rejected;
  for (const auto& [s, n] : o.status_counts) AddStatus(s, n);
  histogram.Merge(o.histogram);
}

uint64_t Rollup::StatusCount(int status) const {
  for (const auto& [s, n] : status_counts) {
    if (s == status) return n;
  }
  return 0;
}

uint64_t Rollup::StatusRange(int lo, int hi) const {
  uint64_t total = 0;
  for (const auto& [s, n] : status_counts) {
    if (s >= lo && s <= hi) total += n;
  }
  return total;
}

}  // namespace apimeter

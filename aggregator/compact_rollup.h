// CompactRollup: the aggregator's private, cache-friendly form of a Rollup
// (internal to aggregator/; nothing outside the aggregator sees it).
//
// Promise: after any sequence of Add / AddRejected calls, TakeRollup() returns
// a Rollup equal (status list order aside) to the one Rollup::AddRequestInBucket
// and `rejected += 1` would have built from the same calls. Exact: counts
// never wrap (inline 16-bit counters hand their value to the heap part before
// they would overflow).
//
// Why it exists: the aggregator touches several rollups per log line, and most
// of them (a customer in one minute, a customer × endpoint pair in one day)
// see only a few requests. A Rollup keeps its statuses and histogram in two
// separate heap blocks, i.e. three cache misses per touch. A CompactRollup is
// one 128-byte block (two cache lines): the counters, up to kInlineStatuses
// statuses and up to kInlineBuckets histogram buckets inline. Only a busy
// series spills into a heap Rollup (more statuses or buckets, or a counter
// that is full); its histogram then lives there and is O(1) per add once
// dense. Heap bytes added by spilling are reported through the `heap_bytes`
// counter the owner passes in, so the owner can keep an O(1) memory total.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "aggregator/prefetch.h"
#include "aggregator/rollup.h"

namespace apimeter::aggregator_internal {

class alignas(64) CompactRollup {
 public:
  static constexpr int kInlineStatuses = 8;
  static constexpr int kInlineBuckets = 7;

  // One request; bucket == LatencyHistogram::BucketIndex(latency_us), ignored
  // when latency_us < 0 (no latency logged).
  void Add(int status, uint64_t bytes_in, uint64_t bytes_out, int64_t latency_us, int bucket,
           size_t* heap_bytes) {
    ++requests_;
    bytes_in_ += bytes_in;
    bytes_out_ += bytes_out;
    AddStatus(status, heap_bytes);
    if (latency_us >= 0) {
      ++latency_count_;
      latency_sum_us_ += static_cast<uint64_t>(latency_us);
      if (latency_us > latency_max_us_) latency_max_us_ = latency_us;
      AddBucket(bucket, heap_bytes);
    }
  }
  void AddRejected() { ++rejected_; }

  // Hints that an Add follows soon (the aggregator issues them a few lines
  // ahead so that cache misses overlap): the block itself, then the heap part,
  // then the histogram memory of `bucket`. No effect on the value.
  void Prefetch() const {
    PrefetchLine(this);
    PrefetchLine(reinterpret_cast<const char*>(this) + 64);
  }
  void PrefetchSpill() const {
    if (spill_) PrefetchLine(&spill_->histogram);
  }
  void PrefetchBucket(int bucket) const {
    if (histogram_spilled_) spill_->histogram.PrefetchBucket(bucket);
  }

  // Moves the content out as a Rollup and leaves this empty (heap released).
  // The caller subtracts HeapBytes() (read before) from its total.
  Rollup TakeRollup();
  // Heap owned beyond sizeof(CompactRollup); O(1).
  size_t HeapBytes() const { return spill_ ? spill_->MemoryBytes() : 0; }

 private:
  static constexpr uint16_t kInlineMax = UINT16_MAX;

  void AddStatus(int status, size_t* heap_bytes) {
    for (int i = 0; i < statuses_; ++i) {
      if (status_[i] == status) {
        if (status_count_[i] == kInlineMax) return StatusFull(i, heap_bytes);
        ++status_count_[i];
        return;
      }
    }
    if (statuses_ < kInlineStatuses && status >= 0 && status <= UINT16_MAX) {
      status_[statuses_] = static_cast<uint16_t>(status);
      status_count_[statuses_] = 1;
      ++statuses_;
      return;
    }
    SpillStatus(status, heap_bytes);
  }

  void AddBucket(int bucket, size_t* heap_bytes) {
    if (histogram_spilled_) return SpilledBucket(bucket, heap_bytes);
    int i = 0;
    while (i < buckets_ && bucket_[i] != bucket) ++i;
    if (i < buckets_ && bucket_count_[i] != kInlineMax) {
      ++bucket_count_[i];
      return;
    }
    if (i == buckets_ && buckets_ < kInlineBuckets) {
      bucket_[i] = static_cast<uint16_t>(bucket);
      bucket_count_[i] = 1;
      ++buckets_;
      return;
    }
    // A new bucket with no room, or a full counter: the histogram moves to the heap.
    SpillHistogram(heap_bytes);
    SpilledBucket(bucket, heap_bytes);
  }

  void SpilledBucket(int bucket, size_t* heap_bytes) {
    LatencyHistogram& h = spill_->histogram;
    const size_t before = h.MemoryBytes();
    h.AddBucket(bucket, 1);
    *heap_bytes += h.MemoryBytes() - before;
  }

  Rollup& Spill(size_t* heap_bytes);
  void StatusFull(int i, size_t* heap_bytes);
  void SpillStatus(int status, size_t* heap_bytes);
  void SpillHistogram(size_t* heap_bytes);

  // First cache line: what every add touches.
  uint64_t requests_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t latency_count_ = 0;
  uint64_t latency_sum_us_ = 0;
  int64_t latency_max_us_ = -1;
  uint64_t rejected_ = 0;
  // Statuses, buckets and counts that did not fit inline (null until needed).
  std::unique_ptr<Rollup> spill_;
  // Second cache line: inline statuses and histogram buckets.
  uint16_t status_[kInlineStatuses] = {};
  uint16_t status_count_[kInlineStatuses] = {};
  uint16_t bucket_[kInlineBuckets] = {};
  uint16_t bucket_count_[kInlineBuckets] = {};
  uint8_t statuses_ = 0;
  uint8_t buckets_ = 0;
  bool histogram_spilled_ = false;  // all buckets now live in spill_->histogram
};

static_assert(sizeof(CompactRollup) == 128, "two cache lines");

}  // namespace apimeter::aggregator_internal

#include "aggregator/compact_rollup.h"

namespace apimeter::aggregator_internal {

Rollup& CompactRollup::Spill(size_t* heap_bytes) {
  if (!spill_) {
    spill_ = std::make_unique<Rollup>();
    *heap_bytes += spill_->MemoryBytes();
  }
  return *spill_;
}

// The inline counter of status_[i] is full: hand its count (plus this
// request) to the heap part and start counting from zero again.
void CompactRollup::StatusFull(int i, size_t* heap_bytes) {
  Rollup& s = Spill(heap_bytes);
  const size_t before = s.MemoryBytes();
  s.AddStatus(status_[i], uint64_t{kInlineMax} + 1);
  status_count_[i] = 0;
  *heap_bytes += s.MemoryBytes() - before;
}

void CompactRollup::SpillStatus(int status, size_t* heap_bytes) {
  Rollup& s = Spill(heap_bytes);
  const size_t before = s.MemoryBytes();
  s.AddStatus(status, 1);
  *heap_bytes += s.MemoryBytes() - before;
}

void CompactRollup::SpillHistogram(size_t* heap_bytes) {
  Rollup& s = Spill(heap_bytes);
  const size_t before = s.MemoryBytes();
  // Room for twice the inline buckets: spares the first few reallocations.
  s.histogram.Reserve(2 * (kInlineBuckets + 1));
  for (int i = 0; i < buckets_; ++i) s.histogram.AddBucket(bucket_[i], bucket_count_[i]);
  buckets_ = 0;
  histogram_spilled_ = true;
  *heap_bytes += s.MemoryBytes() - before;
}

Rollup CompactRollup::TakeRollup() {
  Rollup r;
  if (spill_) {
    r = std::move(*spill_);
    spill_.reset();
  }
  r.requests = requests_;
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  r.latency_count = latency_count_;
  r.latency_sum_us = latency_sum_us_;
  r.latency_max_us = latency_max_us_;
  r.rejected = rejected_;
  // One allocation each for statuses and buckets, not one per growth step.
  r.status_counts.reserve(r.status_counts.size() + statuses_);
  for (int i = 0; i < statuses_; ++i) {
    if (status_count_[i] != 0) r.AddStatus(status_[i], status_count_[i]);
  }
  if (buckets_ > 0) {
    r.histogram.Reserve(static_cast<size_t>(buckets_));
    for (int i = 0; i < buckets_; ++i) r.histogram.AddBucket(bucket_[i], bucket_count_[i]);
  }
  *this = CompactRollup();
  return r;
}

}  // namespace apimeter::aggregator_internal

// LatencyHistogram: a mergeable latency distribution with 1% relative accuracy.
//
// Promise: values are latencies in whole microseconds (>= 0). Bucket i > 0
// holds values in (γ^(i-1), γ^i] with γ = (1+α)/(1-α), α = 0.01; bucket 0
// holds exactly 0. BucketValue(i) is within α of every value in bucket i, so a
// nearest-rank percentile read from any merge of histograms is within 1% of
// the exact nearest-rank value over the same requests. Merge adds counts and
// is exact, commutative and associative. Storage is sparse: memory grows with
// the number of distinct non-empty buckets (see MemoryBytes), not with the
// value range. Not thread-safe; one owner at a time.
//
// Representation (why two modes): most series in a minute (a customer on one
// endpoint) see a handful of distinct buckets, so they keep a short sorted
// list of packed (index, count) words — 8 bytes per non-empty bucket. Busy
// series switch to a dense window of counts over [lowest, highest] non-empty
// index, where an add is O(1). Both are one std::vector<uint64_t>.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "aggregator/prefetch.h"

namespace apimeter {

class LatencyHistogram {
 public:
  static constexpr double kRelativeAccuracy = 0.01;
  // Largest bucket index: covers values up to 2^40 µs (about 12.7 days).
  static constexpr int kMaxIndex = 1400;

  // ceil(log_γ x) (with a 1e-9 epsilon so exact powers of γ stay in their own
  // bucket), clamped to [1, kMaxIndex] for x >= 1; 0 for x <= 0. Computed by
  // a table lookup that is proven equal to BucketIndexReference by an
  // exhaustive test (tests/aggregator/latency_histogram_test.cpp).
  static int BucketIndex(int64_t micros);
  // The defining formula, with log(); slow. Kept as the specification.
  static int BucketIndexReference(int64_t micros);
  static double BucketValue(int index);

  void Add(int64_t micros, uint64_t count = 1) { AddBucket(BucketIndex(micros), count); }
  // index is clamped to [0, kMaxIndex] (indexes may come from Redis).
  void AddBucket(int index, uint64_t count) {
    // Fast path inline: a busy (dense) histogram whose window holds the index.
    const size_t at = static_cast<size_t>(index - base_);
    if (dense_ && index >= base_ && at < data_.size()) {
      data_[at] += count;
      count_ += count;
      return;
    }
    AddBucketSlow(index, count);
  }
  // Makes room for `buckets` non-empty buckets without reallocating (a hint).
  void Reserve(size_t buckets) {
    if (!dense_) data_.reserve(buckets);
  }
  void Merge(const LatencyHistogram& other);
  void Clear();

  uint64_t Count() const { return count_; }
  bool Empty() const { return count_ == 0; }
  // Nearest-rank percentile (p in (0, 100]) in µs; nullopt when empty.
  std::optional<double> PercentileMicros(double p) const;

  // Calls f(index, count) for every non-empty bucket in ascending index order.
  template <typename F>
  void ForEachBucket(F&& f) const {
    if (dense_) {
      for (size_t j = 0; j < data_.size(); ++j) {
        if (data_[j] != 0) f(base_ + static_cast<int>(j), data_[j]);
      }
    } else {
      for (uint64_t w : data_) f(static_cast<int>(w >> kCountBits), w & kCountMask);
    }
  }

  // A hint that AddBucket(index) follows soon: starts loading the memory it
  // will touch. No effect on the value.
  void PrefetchBucket(int index) const {
    if (data_.empty()) return;
    const size_t at = dense_ && index >= base_ ? static_cast<size_t>(index - base_) : 0;
    aggregator_internal::PrefetchLine(data_.data() + std::min(at, data_.size() - 1));
  }

  // Heap bytes plus the object itself; O(1).
  size_t MemoryBytes() const { return sizeof(*this) + data_.capacity() * sizeof(uint64_t); }
  // Number of non-empty buckets (O(1) when sparse, O(span) when dense).
  int NonEmptyBuckets() const;

 private:
  // Sparse word: index in the top bits, count in the low kCountBits.
  static constexpr int kCountBits = 52;
  static constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;
  // Sparse lists longer than this become dense (insertion is O(length)).
  static constexpr size_t kSparseMax = 24;

  void AddBucketSlow(int index, uint64_t count);
  void AddSparse(int index, uint64_t count);
  void AddDense(int index, uint64_t count);
  void MakeDense(int lo, int hi);
  void EnsureDenseRange(int lo, int hi);

  std::vector<uint64_t> data_;
  uint64_t count_ = 0;
  int base_ = 0;  // dense: index of data_[0]
  bool dense_ = false;
};

}  // namespace apimeter

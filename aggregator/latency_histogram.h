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
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

namespace apimeter {

class LatencyHistogram {
 public:
  static constexpr double kRelativeAccuracy = 0.01;
  // Largest bucket index: covers values up to 2^40 µs (about 12.7 days).
  static constexpr int kMaxIndex = 1400;

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram& other);
  LatencyHistogram& operator=(const LatencyHistogram& other);
  LatencyHistogram(LatencyHistogram&&) noexcept = default;
  LatencyHistogram& operator=(LatencyHistogram&&) noexcept = default;

  static int BucketIndex(int64_t micros);
  static double BucketValue(int index);

  void Add(int64_t micros, uint64_t count = 1) { AddBucket(BucketIndex(micros), count); }
  void AddBucket(int index, uint64_t count);
  void Merge(const LatencyHistogram& other);
  void Clear();

  uint64_t Count() const { return count_; }
  bool Empty() const { return count_ == 0; }
  // Nearest-rank percentile (p in (0, 100]) in µs; nullopt when empty.
  std::optional<double> PercentileMicros(double p) const;

  // Calls f(index, count) for every non-empty bucket in ascending index order.
  template <typename F>
  void ForEachBucket(F&& f) const {
    for (int c = 0; c < kChunks; ++c) {
      if (!chunks_[c]) continue;
      for (int j = 0; j < kChunkSize; ++j) {
        if (uint64_t n = (*chunks_[c])[j]) f(c * kChunkSize + j, n);
      }
    }
  }

  size_t MemoryBytes() const;

 private:
  static constexpr int kChunkSize = 32;
  static constexpr int kChunks = (kMaxIndex + kChunkSize) / kChunkSize;
  using Chunk = std::array<uint64_t, kChunkSize>;

  std::array<std::unique_ptr<Chunk>, kChunks> chunks_{};
  uint64_t count_ = 0;
};

}  // namespace apimeter

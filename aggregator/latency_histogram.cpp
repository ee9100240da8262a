#include "aggregator/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace apimeter {
namespace {

constexpr double kGamma = (1.0 + LatencyHistogram::kRelativeAccuracy) /
                          (1.0 - LatencyHistogram::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);

}  // namespace

LatencyHistogram::LatencyHistogram(const LatencyHistogram& other) { *this = other; }

LatencyHistogram& LatencyHistogram::operator=(const LatencyHistogram& other) {
  if (this == &other) return *this;
  for (int c = 0; c < kChunks; ++c) {
    if (other.chunks_[c]) {
      chunks_[c] = std::make_unique<Chunk>(*other.chunks_[c]);
    } else {
      chunks_[c].reset();
    }
  }
  count_ = other.count_;
  return *this;
}

int LatencyHistogram::BucketIndex(int64_t micros) {
  if (micros <= 0) return 0;
  // ceil(log_γ x); the small epsilon keeps exact powers of γ in their own bucket
  // despite rounding in log().
  double idx = std::ceil(std::log(static_cast<double>(micros)) / kLogGamma - 1e-9);
  int i = static_cast<int>(idx);
  // log_γ(1) = 0: value 1 µs must not collide with the zero bucket.
  return std::clamp(i, 1, kMaxIndex);
}

double LatencyHistogram::BucketValue(int index) {
  if (index <= 0) return 0.0;
  return 2.0 * std::pow(kGamma, index) / (kGamma + 1.0);
}

void LatencyHistogram::AddBucket(int index, uint64_t count) {
  index = std::clamp(index, 0, kMaxIndex);
  auto& chunk = chunks_[index / kChunkSize];
  if (!chunk) chunk = std::make_unique<Chunk>(Chunk{});
  (*chunk)[index % kChunkSize] += count;
  count_ += count;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int c = 0; c < kChunks; ++c) {
    if (!other.chunks_[c]) continue;
    if (!chunks_[c]) {
      chunks_[c] = std::make_unique<Chunk>(*other.chunks_[c]);
      continue;
    }
    for (int j = 0; j < kChunkSize; ++j) (*chunks_[c])[j] += (*other.chunks_[c])[j];
  }
  count_ += other.count_;
}

void LatencyHistogram::Clear() {
  for (auto& c : chunks_) c.reset();
  count_ = 0;
}

std::optional<double> LatencyHistogram::PercentileMicros(double p) const {
  if (count_ == 0) return std::nullopt;
  p = std::clamp(p, 0.0, 100.0);
  // Nearest rank: the smallest value with at least ceil(p/100 * N) values <= it.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int c = 0; c < kChunks; ++c) {
    if (!chunks_[c]) continue;
    for (int j = 0; j < kChunkSize; ++j) {
      seen += (*chunks_[c])[j];
      if (seen >= rank) return BucketValue(c * kChunkSize + j);
    }
  }
  return std::nullopt;  // unreachable while count_ matches the buckets
}

size_t LatencyHistogram::MemoryBytes() const {
  size_t bytes = sizeof(*this);
  for (const auto& c : chunks_) bytes += c ? sizeof(Chunk) : 0;
  return bytes;
}

}  // namespace apimeter

#include "aggregator/latency_histogram.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace apimeter {
namespace {

constexpr double kGamma =
    (1.0 + LatencyHistogram::kRelativeAccuracy) / (1.0 - LatencyHistogram::kRelativeAccuracy);
const double kLogGamma = std::log(kGamma);

// Fast BucketIndex: values are split by their leading bit position e and the
// next kSubBits bits m. Each (e, m) cell spans a relative width of at most
// 2^-kSubBits = 1.6%, less than the bucket width γ - 1 = 2.02%, so a cell
// meets at most one bucket boundary: start from the bucket of the cell's
// lowest value and step once if x lies above that bucket's upper bound.
constexpr int kSubBits = 6;
constexpr int kSubCells = 1 << kSubBits;

struct FastTables {
  std::array<uint16_t, 64 * kSubCells> first{};                   // bucket of the cell's low end
  std::array<uint64_t, LatencyHistogram::kMaxIndex + 1> upper{};  // largest x in bucket i

  FastTables() {
    for (int i = 0; i <= LatencyHistogram::kMaxIndex; ++i) upper[i] = LargestIn(i);
    for (int e = 0; e < 64; ++e) {
      for (int m = 0; m < kSubCells; ++m) first[e * kSubCells + m] = FirstOfCell(e, m);
    }
  }

  // Largest x >= 0 with BucketIndexReference(x) <= i (binary search; the
  // reference is monotone non-decreasing).
  static uint64_t LargestIn(int i) {
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    if (LatencyHistogram::BucketIndexReference(kMax) <= i) return ~uint64_t{0};
    int64_t lo = 0, hi = kMax;  // ref(lo) <= i < ref(hi)
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      if (LatencyHistogram::BucketIndexReference(mid) <= i)
        lo = mid;
      else
        hi = mid;
    }
    return static_cast<uint64_t>(lo);
  }

  static uint16_t FirstOfCell(int e, int m) {
    if (e >= 63) return LatencyHistogram::kMaxIndex;  // x < 2^63 never reaches e = 63
    // Lowest integer whose leading bit is e and whose next bits are m.
    uint64_t scaled = static_cast<uint64_t>(kSubCells + m);
    uint64_t lo = e >= kSubBits ? scaled << (e - kSubBits)
                                : (scaled + (uint64_t{1} << (kSubBits - e)) - 1) >> (kSubBits - e);
    return static_cast<uint16_t>(LatencyHistogram::BucketIndexReference(static_cast<int64_t>(lo)));
  }
};

const FastTables& Tables() {
  static const FastTables tables;
  return tables;
}

}  // namespace

int LatencyHistogram::BucketIndexReference(int64_t micros) {
  if (micros <= 0) return 0;
  // ceil(log_γ x); the small epsilon keeps exact powers of γ in their own bucket
  // despite rounding in log().
  double idx = std::ceil(std::log(static_cast<double>(micros)) / kLogGamma - 1e-9);
  int i = static_cast<int>(idx);
  // log_γ(1) = 0: value 1 µs must not collide with the zero bucket.
  return std::clamp(i, 1, kMaxIndex);
}

int LatencyHistogram::BucketIndex(int64_t micros) {
  if (micros <= 0) return 0;
  const FastTables& t = Tables();
  const uint64_t x = static_cast<uint64_t>(micros);
  const int e = 63 - std::countl_zero(x);
  const uint64_t m = e >= kSubBits ? (x >> (e - kSubBits)) : (x << (kSubBits - e));
  int idx = t.first[e * kSubCells + static_cast<int>(m & (kSubCells - 1))];
  while (x > t.upper[idx]) ++idx;  // at most one step; upper[kMaxIndex] is the maximum
  return idx;
}

double LatencyHistogram::BucketValue(int index) {
  if (index <= 0) return 0.0;
  return 2.0 * std::pow(kGamma, index) / (kGamma + 1.0);
}

void LatencyHistogram::AddBucketSlow(int index, uint64_t count) {
  if (count == 0) return;
  index = std::clamp(index, 0, kMaxIndex);
  if (dense_) {
    AddDense(index, count);
  } else {
    AddSparse(index, count);
  }
  count_ += count;
}

void LatencyHistogram::AddSparse(int index, uint64_t count) {
  const uint64_t key = static_cast<uint64_t>(index) << kCountBits;
  auto it = std::lower_bound(data_.begin(), data_.end(), key);
  if (it != data_.end() && (*it >> kCountBits) == static_cast<uint64_t>(index)) {
    // A packed count must not carry into the index bits; such sums go dense.
    if ((*it & kCountMask) + count <= kCountMask) {
      *it += count;
      return;
    }
  } else if (data_.size() < kSparseMax && count <= kCountMask) {
    data_.insert(it, key | count);
    return;
  }
  int lo = index, hi = index;
  if (!data_.empty()) {
    lo = std::min(lo, static_cast<int>(data_.front() >> kCountBits));
    hi = std::max(hi, static_cast<int>(data_.back() >> kCountBits));
  }
  MakeDense(lo, hi);
  AddDense(index, count);
}

void LatencyHistogram::MakeDense(int lo, int hi) {
  std::vector<uint64_t> dense(static_cast<size_t>(hi - lo + 1), 0);
  for (uint64_t w : data_) dense[(w >> kCountBits) - lo] += w & kCountMask;
  data_ = std::move(dense);
  base_ = lo;
  dense_ = true;
}

void LatencyHistogram::EnsureDenseRange(int lo, int hi) {
  const int cur_hi = base_ + static_cast<int>(data_.size()) - 1;
  if (lo < base_) {
    data_.insert(data_.begin(), static_cast<size_t>(base_ - lo), 0);
    base_ = lo;
  }
  if (hi > cur_hi) data_.resize(static_cast<size_t>(hi - base_ + 1), 0);
}

void LatencyHistogram::AddDense(int index, uint64_t count) {
  if (index < base_ || index >= base_ + static_cast<int>(data_.size())) {
    EnsureDenseRange(index, index);
  }
  data_[index - base_] += count;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (!other.dense_) {
    for (uint64_t w : other.data_) AddBucket(static_cast<int>(w >> kCountBits), w & kCountMask);
    return;
  }
  // Dense source: make this dense over the union of both ranges, then add arrays.
  const int other_hi = other.base_ + static_cast<int>(other.data_.size()) - 1;
  if (!dense_) {
    int lo = other.base_, hi = other_hi;
    if (!data_.empty()) {
      lo = std::min(lo, static_cast<int>(data_.front() >> kCountBits));
      hi = std::max(hi, static_cast<int>(data_.back() >> kCountBits));
    }
    MakeDense(lo, hi);
  } else {
    EnsureDenseRange(other.base_, other_hi);
  }
  for (size_t j = 0; j < other.data_.size(); ++j) data_[other.base_ - base_ + j] += other.data_[j];
  count_ += other.count_;
}

void LatencyHistogram::Clear() {
  data_.clear();
  data_.shrink_to_fit();
  count_ = 0;
  base_ = 0;
  dense_ = false;
}

int LatencyHistogram::NonEmptyBuckets() const {
  if (!dense_) return static_cast<int>(data_.size());
  return static_cast<int>(std::count_if(data_.begin(), data_.end(), [](uint64_t n) { return n; }));
}

std::optional<double> LatencyHistogram::PercentileMicros(double p) const {
  if (count_ == 0) return std::nullopt;
  p = std::clamp(p, 0.0, 100.0);
  // Nearest rank: the smallest value with at least ceil(p/100 * N) values <= it.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  int found = -1;
  ForEachBucket([&](int index, uint64_t n) {
    if (found >= 0) return;
    seen += n;
    if (seen >= rank) found = index;
  });
  if (found < 0) return std::nullopt;  // unreachable while count_ matches the buckets
  return BucketValue(found);
}

}  // namespace apimeter

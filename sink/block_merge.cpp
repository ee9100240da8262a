#include "sink/block_merge.h"

#include <algorithm>
#include <functional>
#include <string>

namespace apimeter {
namespace {

bool AddTo(uint64_t& a, uint64_t b) { return !__builtin_add_overflow(a, b, &a); }

Status Overflow(const BlockGroup& group, SeriesKey key) {
  return Status::ResourceExhausted("merge of blocks " + DescribeGroup(group) + ": series key " +
                                   std::to_string(key) + ": a sum overflows 64 bits");
}

}  // namespace

Status BlockMerger::Merge(std::span<const DecodedBlock* const> blocks, DecodedBlock* out) {
  if (blocks.empty()) return Status::InvalidArgument("merge of no blocks");
  const BlockGroup group = blocks[0]->group();
  size_t series = 0, statuses = 0, buckets = 0;
  for (const DecodedBlock* b : blocks) {
    if (!(b->group() == group)) {
      return Status::InvalidArgument("merge of blocks of groups " + DescribeGroup(group) + " and " +
                                     DescribeGroup(b->group()));
    }
    series += b->size();
    statuses += b->total_statuses();
    buckets += b->total_buckets();
  }
  out->Reset(group, false);
  if (std::any_of(blocks.begin(), blocks.end(), [](const DecodedBlock* b) { return b->has_seen(); })) {
    out->EnableSeen();
  }
  out->Reserve(series, statuses, buckets);

  // k-way merge: pop every block whose next key is the smallest, sum, advance.
  constexpr auto kMinFirst = std::greater<>();
  heap_.clear();
  cursor_.assign(blocks.size(), 0);
  for (uint32_t j = 0; j < blocks.size(); ++j) {
    if (!blocks[j]->empty()) heap_.emplace_back(blocks[j]->keys()[0], j);
  }
  std::make_heap(heap_.begin(), heap_.end(), kMinFirst);
  while (!heap_.empty()) {
    const SeriesKey key = heap_.front().first;
    sources_.clear();
    while (!heap_.empty() && heap_.front().first == key) {
      std::pop_heap(heap_.begin(), heap_.end(), kMinFirst);
      sources_.push_back(heap_.back().second);
      heap_.pop_back();
    }
    if (sources_.size() == 1) {
      out->AppendSeriesFrom(*blocks[sources_[0]], cursor_[sources_[0]]);
    } else {
      APIMETER_RETURN_IF_ERROR(MergeSeries(blocks, out));
    }
    for (uint32_t j : sources_) {
      if (++cursor_[j] < blocks[j]->size()) {
        heap_.emplace_back(blocks[j]->keys()[cursor_[j]], j);
        std::push_heap(heap_.begin(), heap_.end(), kMinFirst);
      }
    }
  }
  return Status::Ok();
}

Status BlockMerger::MergeSeries(std::span<const DecodedBlock* const> blocks, DecodedBlock* out) {
  if (hi_ >= lo_) std::fill(buckets_.begin() + lo_, buckets_.begin() + hi_ + 1, 0);
  lo_ = LatencyHistogram::kMaxIndex + 1;
  hi_ = -1;
  statuses_.clear();
  const SeriesKey key = blocks[sources_[0]]->keys()[cursor_[sources_[0]]];
  SeriesCounters sum;
  bool ok = true;
  // Seen minutes: min / max of the parts with requests; unknown if one of
  // them does not know its own (Rollup::Merge's rule).
  bool seen_unknown = false;
  uint16_t seen_first = kSeenUnknown, seen_last = 0;
  for (uint32_t j : sources_) {
    const DecodedBlock& b = *blocks[j];
    const size_t i = cursor_[j];
    ok &= AddTo(sum.requests, b.requests()[i]);
    ok &= AddTo(sum.bytes_in, b.bytes_in()[i]);
    ok &= AddTo(sum.bytes_out, b.bytes_out()[i]);
    ok &= AddTo(sum.latency_count, b.latency_count()[i]);
    ok &= AddTo(sum.latency_sum_us, b.latency_sum_us()[i]);
    ok &= AddTo(sum.rejected, b.rejected(i));
    sum.latency_max_us = std::max(sum.latency_max_us, b.latency_max_us()[i]);
    if (b.requests()[i] > 0) {
      seen_unknown |= b.seen_first(i) == kSeenUnknown;
      seen_first = std::min(seen_first, b.seen_first(i));
      seen_last = std::max(seen_last, b.seen_last(i) == kSeenUnknown ? uint16_t{0} : b.seen_last(i));
    }
    const auto codes = b.StatusCodes(i);
    const auto counts = b.StatusCounts(i);
    for (size_t s = 0; s < codes.size(); ++s) {
      auto it = std::lower_bound(statuses_.begin(), statuses_.end(), codes[s],
                                 [](const auto& e, uint16_t code) { return e.first < code; });
      if (it != statuses_.end() && it->first == codes[s]) {
        ok &= AddTo(it->second, counts[s]);
      } else {
        statuses_.emplace(it, codes[s], counts[s]);
      }
    }
    const auto indexes = b.BucketIndexes(i);
    const auto bcounts = b.BucketCounts(i);
    if (!indexes.empty()) {
      lo_ = std::min<int>(lo_, indexes.front());
      hi_ = std::max<int>(hi_, indexes.back());
    }
    for (size_t s = 0; s < indexes.size(); ++s) ok &= AddTo(buckets_[indexes[s]], bcounts[s]);
  }
  if (!ok) return Overflow(out->group(), key);
  if (!seen_unknown && seen_first != kSeenUnknown) {
    sum.seen_first = seen_first;
    sum.seen_last = seen_last;
  }
  out->AppendSeries(key, sum);
  for (const auto& [code, n] : statuses_) out->AppendStatus(code, n);
  for (int index = lo_; index <= hi_; ++index) {
    if (buckets_[index] != 0) out->AppendBucket(static_cast<uint16_t>(index), buckets_[index]);
  }
  return Status::Ok();
}

Result<DecodedBlock> MergeBlocks(std::span<const DecodedBlock* const> blocks) {
  thread_local BlockMerger merger;
  DecodedBlock out;
  APIMETER_RETURN_IF_ERROR(merger.Merge(blocks, &out));
  return out;
}

}  // namespace apimeter

// Merging blocks of one group into their sum: the core of compaction (base
// plus deltas into a new base) and of every read (cached base plus deltas).
//
// Promise: the merge of blocks b1..bn of the same group (kind, tier, bucket,
// shard) is the block whose series are the union of their keys, each the
// exact sum (max for latency max) of that key's series in the inputs — what
// Rollup::Merge would give, with statuses and buckets in ascending order
// (seen minutes included: the output has seen columns when an input has). A
// sum that overflows 64 bits, inputs of different groups, or no inputs at all
// is an error; the output is then unspecified. The output is a delta (base()
// false); compaction marks it a base before encoding.
//
// Cost: a k-way merge over the sorted keys, O(total series · log k) plus the
// statuses and buckets; no allocation per series (the merger reuses its
// scratch space and the output's capacity).
//
// Thread-safety: a BlockMerger has one owner at a time; inputs are only read,
// so cached blocks may be merged by many threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "aggregator/latency_histogram.h"
#include "common/result.h"
#include "sink/block.h"

namespace apimeter {

class BlockMerger {
 public:
  Status Merge(std::span<const DecodedBlock* const> blocks, DecodedBlock* out);

 private:
  // Sums the series at the cursors of sources_ (two or more) into out.
  Status MergeSeries(std::span<const DecodedBlock* const> blocks, DecodedBlock* out);

  // Heap of (key, block index) over the blocks' next series: min-heap order.
  std::vector<std::pair<SeriesKey, uint32_t>> heap_;
  std::vector<size_t> cursor_;     // next series of each block
  std::vector<uint32_t> sources_;  // blocks holding the current key
  // Statuses of the current key, kept sorted by code (a series has few).
  std::vector<std::pair<uint16_t, uint64_t>> statuses_;
  // Histogram counts of the current key by index, touched range [lo_, hi_].
  std::array<uint64_t, LatencyHistogram::kMaxIndex + 1> buckets_{};
  int lo_ = LatencyHistogram::kMaxIndex + 1, hi_ = -1;
};

// With a merger of the calling thread.
Result<DecodedBlock> MergeBlocks(std::span<const DecodedBlock* const> blocks);

}  // namespace apimeter

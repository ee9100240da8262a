// ByteIntervals: the set of byte ranges of one input file already counted,
// stored as its checkpoint value ("0-1200,5000-9000").
//
// Promise: intervals are half-open, sorted, non-overlapping and never
// adjacent (Add merges), so ToString() is canonical and equal sets compare
// equal as strings. Parse() refuses anything not produced by ToString().
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace apimeter {

class ByteIntervals {
 public:
  static Result<ByteIntervals> Parse(std::string_view text);
  std::string ToString() const;

  void Add(uint64_t begin, uint64_t end);
  // True when [begin, end) overlaps a counted interval at all. Checkpoints are
  // line-aligned, so a line is either wholly counted or not at all; treating
  // any overlap as counted errs on the side of never counting twice.
  bool Overlaps(uint64_t begin, uint64_t end) const;
  uint64_t CountedBytes() const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& ranges() const { return ranges_; }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

}  // namespace apimeter

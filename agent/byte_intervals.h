// ByteIntervals: the set of byte ranges of one input file already counted,
// stored as its checkpoint value ("0-1200,5000-9000").
//
// Promise: intervals are half-open, sorted, non-overlapping and never
// adjacent (Add merges), so ToString() is canonical and equal sets compare
// equal as strings. Parse() refuses anything not produced by ToString().
// A zero-length interval "p-p" is a cursor: it records a position a reader
// deliberately started at (the live agent starting at the end of a file)
// without counting any byte, so End() (the resume position) survives a
// restart before the first line. A cursor never overlaps anything and merges
// into an interval that touches it. Not thread-safe.
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
  // Records `pos` as a cursor (a zero-length interval) unless it is already
  // inside or at the end of an interval. AddCursor(0) records nothing.
  void AddCursor(uint64_t pos);
  // Forgets every byte at or past `end` (a file now shorter than what was
  // counted in it); an interval cut to nothing at `end` stays as a cursor.
  void ClipTo(uint64_t end);
  // The resume position: the end of the last interval (0 when empty).
  uint64_t End() const { return ranges_.empty() ? 0 : ranges_.back().second; }
  // True when [begin, end) overlaps a counted interval at all. Checkpoints are
  // line-aligned, so a line is either wholly counted or not at all; treating
  // any overlap as counted errs on the side of never counting twice.
  bool Overlaps(uint64_t begin, uint64_t end) const;
  uint64_t CountedBytes() const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& ranges() const { return ranges_; }

 private:
  // True when pos lies in [a, b] of some interval (ends included).
  bool Contains(uint64_t pos) const;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

}  // namespace apimeter

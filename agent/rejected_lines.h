// RejectedLines: counts malformed lines by reason and keeps a bounded sample.
//
// Promise: memory is bounded (at most kMaxSamples samples, each cut to
// kMaxSampleBytes with non-printable bytes shown as \xHH), whatever the
// input. Counting a rejected line never fails and never throws.
// Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/line_parser.h"

namespace apimeter {

class RejectedLines {
 public:
  static constexpr size_t kMaxSamples = 20;
  static constexpr size_t kMaxSampleBytes = 200;
  static constexpr int kKinds = kParseErrorKindCount;

  struct Sample {
    std::string source;  // file path
    uint64_t offset;     // byte offset of the line's start
    std::string reason;  // ParseErrorName, plus the field when known
    std::string text;    // the line as given to Add (secrets masked by the caller), escaped and cut
  };

  // `line` is shown as given (escaped and cut): the caller masks secrets first.
  void Add(const ParseError& error, std::string_view line, std::string_view source,
           uint64_t offset);
  // True when the next Add keeps a sample (the caller may skip preparing one otherwise).
  bool TakesSample() const { return samples_.size() < kMaxSamples; }
  // Drops the samples kept so far (counts stay), so later lines can be sampled:
  // the agent logs samples as they come and clears them.
  void ClearSamples() { samples_.clear(); }
  uint64_t total() const { return total_; }
  uint64_t count(ParseErrorKind kind) const { return counts_[static_cast<int>(kind)]; }
  const std::vector<Sample>& samples() const { return samples_; }
  // Adds the counts and samples of `parts`: the rejected lines of one file,
  // split between the lanes of a backfill (agent/backfill_lanes.h). Samples
  // are taken in file order (by offset) while there is room, so the result
  // holds what one RejectedLines fed every line in order would.
  void AddFileParts(std::span<const RejectedLines> parts);
  // "no_match=3 too_long=1" (only non-zero reasons), or "" when none.
  std::string Summary() const;

  static std::string Escape(std::string_view bytes, size_t max_bytes);

 private:
  uint64_t total_ = 0;
  std::array<uint64_t, kKinds> counts_{};
  std::vector<Sample> samples_;
};

}  // namespace apimeter

// LabelCap: bounds the values one Prometheus label takes (endpoint, customer)
// while keeping every exported series monotonic.
//
// A counter series, once exported, must neither go backwards nor vanish
// (Prometheus would read either as a reset or as staleness). So a value that
// got its own label keeps it until the process ends, and the set of admitted
// values only grows, up to max_values; every other value is counted under
// "other" (slot 0), which is a series of its own. The admission rule:
//  - the first max_values - max_values/4 distinct values are admitted when
//    first seen, so a typical API (fewer endpoints than that) is counted
//    exactly, each endpoint from its first request;
//  - the last max_values/4 slots are kept for traffic: a value counted under
//    "other" is tracked in a bounded candidate table and admitted once it has
//    had kPromoteAfter requests since it was tracked (a guaranteed lower bound,
//    Space-Saving style: when the table is full its less busy half is dropped).
//    A flood of distinct one-off values (a scanner) cannot take these slots;
//    a busy endpoint that appears late still gets one. Its requests before
//    admission stay in "other" (they cannot move without a counter going
//    backwards).
// Memory: at most max_values names plus kCandidatesPerValue * max_values
// candidates (at least kMinCandidates).
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apimeter {

class LabelCap {
 public:
  static constexpr uint64_t kPromoteAfter = 100;
  static constexpr size_t kCandidatesPerValue = 4;
  static constexpr size_t kMinCandidates = 64;
  static constexpr std::string_view kOther = "other";

  explicit LabelCap(size_t max_values);

  // The series of `value`: 0 for "other", 1.. for an admitted value (in the
  // order of admission). A value equal to "other" is counted as other.
  uint32_t Slot(std::string_view value);
  // Label value of each slot; names()[0] is "other".
  const std::vector<std::string>& names() const { return names_; }
  size_t admitted() const { return names_.size() - 1; }
  size_t candidates() const { return candidates_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Candidate {
    uint64_t count = 0;
    uint64_t error = 0;  // count may exceed the value's requests since tracked by this much
  };
  uint32_t Admit(std::string_view value);
  void DropQuieterHalf();

  size_t max_values_;
  size_t admit_on_sight_;
  size_t max_candidates_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> slots_;
  std::unordered_map<std::string, Candidate, Hash, std::equal_to<>> candidates_;
  uint64_t floor_ = 0;  // the largest count dropped from the candidate table
};

}  // namespace apimeter

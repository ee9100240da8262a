#include "agent/label_cap.h"

#include <algorithm>

namespace apimeter {

LabelCap::LabelCap(size_t max_values)
    : max_values_(max_values),
      admit_on_sight_(max_values - max_values / 4),
      max_candidates_(std::max(kMinCandidates, kCandidatesPerValue * max_values)) {
  names_.emplace_back(kOther);
}

uint32_t LabelCap::Admit(std::string_view value) {
  const auto slot = static_cast<uint32_t>(names_.size());
  names_.emplace_back(value);
  slots_.emplace(std::string(value), slot);
  return slot;
}

uint32_t LabelCap::Slot(std::string_view value) {
  if (auto it = slots_.find(value); it != slots_.end()) return it->second;
  if (value == kOther) return 0;
  const size_t admitted_now = admitted();
  if (admitted_now < admit_on_sight_) return Admit(value);
  if (admitted_now >= max_values_) return 0;  // full: the common case past the cap
  auto it = candidates_.find(value);
  if (it == candidates_.end()) {
    if (candidates_.size() >= max_candidates_) DropQuieterHalf();
    it = candidates_.emplace(std::string(value), Candidate{floor_ + 1, floor_}).first;
  } else {
    ++it->second.count;
  }
  if (it->second.count - it->second.error < kPromoteAfter) return 0;
  candidates_.erase(it);
  const uint32_t slot = Admit(value);
  if (admitted() >= max_values_) candidates_ = {};  // no slot left to compete for
  return slot;
}

void LabelCap::DropQuieterHalf() {
  std::vector<uint64_t> counts;
  counts.reserve(candidates_.size());
  for (const auto& [name, c] : candidates_) counts.push_back(c.count);
  const auto mid = counts.begin() + static_cast<std::ptrdiff_t>(counts.size() / 2);
  std::nth_element(counts.begin(), mid, counts.end());
  const uint64_t cut = *mid;
  size_t dropped = 0;
  const size_t want = counts.size() / 2;
  for (auto it = candidates_.begin(); it != candidates_.end() && dropped < want;) {
    if (it->second.count <= cut) {
      floor_ = std::max(floor_, it->second.count);
      it = candidates_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
}

}  // namespace apimeter

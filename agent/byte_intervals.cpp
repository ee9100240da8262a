#include "agent/byte_intervals.h"

#include <algorithm>
#include <charconv>

namespace apimeter {

Result<ByteIntervals> ByteIntervals::Parse(std::string_view text) {
  ByteIntervals out;
  auto bad = [&] {
    return Status::ParseError("checkpoint value '" + std::string(text.substr(0, 80)) +
                              "' is not a list of byte intervals like 0-1200,5000-9000");
  };
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) return bad();
    uint64_t a = 0, b = 0;
    auto r1 = std::from_chars(item.data(), item.data() + dash, a);
    auto r2 = std::from_chars(item.data() + dash + 1, item.data() + item.size(), b);
    if (r1.ec != std::errc() || r1.ptr != item.data() + dash || r2.ec != std::errc() ||
        r2.ptr != item.data() + item.size() || a > b || (a == b && a == 0)) {
      return bad();
    }
    // Strictly after the previous interval: canonical form has no adjacency.
    if (!out.ranges_.empty() && a <= out.ranges_.back().second) return bad();
    out.ranges_.emplace_back(a, b);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return bad();
  }
  return out;
}

std::string ByteIntervals::ToString() const {
  std::string s;
  for (const auto& [a, b] : ranges_) {
    if (!s.empty()) s += ',';
    s += std::to_string(a);
    s += '-';
    s += std::to_string(b);
  }
  return s;
}

void ByteIntervals::AddCursor(uint64_t pos) {
  if (pos == 0 || Contains(pos)) return;
  if (ranges_.empty() || pos > ranges_.back().second) {
    ranges_.emplace_back(pos, pos);
    return;
  }
  // Between intervals: sorted in; it touches nothing (Contains was false).
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), pos,
                             [](uint64_t v, const auto& r) { return v < r.first; });
  ranges_.insert(it, {pos, pos});
}

void ByteIntervals::ClipTo(uint64_t end) {
  while (!ranges_.empty() && ranges_.back().first > end) ranges_.pop_back();
  if (ranges_.empty()) return;
  ranges_.back().second = std::min(ranges_.back().second, end);
  if (ranges_.back().second == 0) ranges_.pop_back();  // no cursor at 0 (AddCursor)
}

bool ByteIntervals::Contains(uint64_t pos) const {
  for (const auto& [a, b] : ranges_) {
    if (a <= pos && pos <= b) return true;
  }
  return false;
}

void ByteIntervals::Add(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  // Fast path: appending at or after the last interval (the usual case).
  if (ranges_.empty() || begin > ranges_.back().second) {
    ranges_.emplace_back(begin, end);
    return;
  }
  if (begin >= ranges_.back().first) {
    ranges_.back().second = std::max(ranges_.back().second, end);
    return;
  }
  ranges_.emplace_back(begin, end);
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

bool ByteIntervals::Overlaps(uint64_t begin, uint64_t end) const {
  // First interval whose end is beyond begin.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), begin,
                             [](uint64_t v, const auto& r) { return v < r.second; });
  return it != ranges_.end() && it->first < end;
}

uint64_t ByteIntervals::CountedBytes() const {
  uint64_t n = 0;
  for (const auto& [a, b] : ranges_) n += b - a;
  return n;
}

}  // namespace apimeter

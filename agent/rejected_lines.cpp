#include "agent/rejected_lines.h"

#include <algorithm>
#include <cstdio>

namespace apimeter {

std::string RejectedLines::Escape(std::string_view bytes, size_t max_bytes) {
  std::string out;
  const bool cut = bytes.size() > max_bytes;
  bytes = bytes.substr(0, max_bytes);
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (cut) out += "...";
  return out;
}

void RejectedLines::Add(const ParseError& error, std::string_view line, std::string_view source,
                        uint64_t offset) {
  ++total_;
  ++counts_[static_cast<int>(error.kind)];
  if (samples_.size() >= kMaxSamples) return;
  std::string reason(ParseErrorName(error.kind));
  if (!error.field.empty()) reason += " ($" + std::string(error.field) + ")";
  samples_.push_back(
      Sample{std::string(source), offset, std::move(reason), Escape(line, kMaxSampleBytes)});
}

void RejectedLines::AddFileParts(std::span<const RejectedLines> parts) {
  std::vector<const Sample*> samples;
  for (const RejectedLines& part : parts) {
    total_ += part.total_;
    for (int k = 0; k < kKinds; ++k) counts_[k] += part.counts_[k];
    for (const Sample& s : part.samples_) samples.push_back(&s);
  }
  std::sort(samples.begin(), samples.end(),
            [](const Sample* a, const Sample* b) { return a->offset < b->offset; });
  for (const Sample* s : samples) {
    if (samples_.size() >= kMaxSamples) break;
    samples_.push_back(*s);
  }
}

std::string RejectedLines::Summary() const {
  std::string s;
  for (int k = 0; k < kKinds; ++k) {
    if (counts_[k] == 0) continue;
    if (!s.empty()) s += ' ';
    s += ParseErrorName(static_cast<ParseErrorKind>(k));
    s += '=';
    s += std::to_string(counts_[k]);
  }
  return s;
}

}  // namespace apimeter

#include "agent/line_splitter.h"

#include <cstring>

namespace apimeter {

void LineSplitter::Deliver(std::string_view line, const LineFn& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  on_line(line, offset_, false);
}

void LineSplitter::Feed(std::string_view chunk, const LineFn& on_line) {
  while (!chunk.empty()) {
    const char* nl = static_cast<const char*>(std::memchr(chunk.data(), '\n', chunk.size()));
    const size_t take = nl ? static_cast<size_t>(nl - chunk.data()) : chunk.size();
    if (too_long_) {
      skipped_ += take;
    } else if (partial_.size() + take > max_line_bytes_) {
      too_long_ = true;
      skipped_ = partial_.size() + take;
      partial_.clear();
      partial_.shrink_to_fit();
    }
    if (!nl) {
      if (!too_long_) partial_.append(chunk.data(), take);
      offset_ += take;
      return;
    }
    offset_ += take + 1;
    if (too_long_) {
      on_line(std::string_view(), offset_, true);
      too_long_ = false;
      skipped_ = 0;
    } else if (partial_.empty()) {
      Deliver(chunk.substr(0, take), on_line);  // zero-copy fast path
    } else {
      partial_.append(chunk.data(), take);
      Deliver(partial_, on_line);
      partial_.clear();
    }
    chunk.remove_prefix(take + 1);
  }
}

void LineSplitter::Finish(const LineFn& on_line) {
  if (too_long_) {
    on_line(std::string_view(), offset_, true);
  } else if (!partial_.empty()) {
    Deliver(partial_, on_line);
  }
  partial_.clear();
  too_long_ = false;
  skipped_ = 0;
}

}  // namespace apimeter

// LineSplitter: turns byte chunks of any size into complete lines.
//
// Promise: Feed() accepts chunks split anywhere (mid-line, mid-"\r\n") and
// calls the sink once per complete line, in order, with the line's bytes
// (without "\n"; a trailing "\r" is removed too) and the stream offset just
// past its newline. A partial last line is held until its newline arrives
// (Finish() hands it out at a real end of input). A line longer than
// max_line_bytes is never buffered: its bytes are dropped as they arrive and
// it is reported once, as too long, when its newline is seen, so memory stays
// bounded by max_line_bytes whatever the input. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace apimeter {

class LineSplitter {
 public:
  // line: the line's bytes (empty when too_long); end_offset: stream offset
  // just past the line's newline; too_long: the line exceeded the limit.
  using LineFn = std::function<void(std::string_view line, uint64_t end_offset, bool too_long)>;

  explicit LineSplitter(size_t max_line_bytes, uint64_t start_offset = 0)
      : max_line_bytes_(max_line_bytes), offset_(start_offset) {}

  void Feed(std::string_view chunk, const LineFn& on_line);
  // End of input: a held partial line (if any) is delivered as a line.
  void Finish(const LineFn& on_line);

  // Offset of the first byte not yet delivered as part of a complete line.
  uint64_t committed_offset() const { return offset_ - pending_bytes(); }
  uint64_t pending_bytes() const { return too_long_ ? skipped_ : partial_.size(); }

 private:
  void Deliver(std::string_view line, const LineFn& on_line);

  size_t max_line_bytes_;
  uint64_t offset_;       // stream offset of the end of all bytes fed so far
  std::string partial_;   // bytes of the current incomplete line
  bool too_long_ = false; // the current line is being skipped
  uint64_t skipped_ = 0;  // bytes of the current line skipped so far
};

}  // namespace apimeter

// Tailer internals shared by agent/tailer.cpp (reading, checkpoints) and
// agent/tailer_discovery.cpp (discovery and rotation rules). Not a public
// interface: only the Tailer includes it. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/byte_intervals.h"
#include "agent/file_system.h"
#include "agent/line_splitter.h"
#include "agent/tailer.h"

namespace apimeter {

// How many bytes before its read position a plain file is read again and
// compared, to notice that it was rewritten under us (see Tailer::ReadFile).
constexpr size_t kTailBytes = 64;

// One followed file: its handle, read position and counted intervals.
struct Tailer::File {
  std::string path;                    // the live path it was found at, or the sibling's path
  std::unique_ptr<FileStream> stream;  // null: state kept only for its checkpoint
  uint64_t dev = 0, ino = 0;
  bool live = true;       // still the file at `path` (else draining: rules 4, 6)
  bool finished = false;  // let go: not read any more; kept until committed
  bool at_eof = false;
  int64_t mtime_s = 0;
  int64_t mtime_ns = 0;  // as last seen through the handle
  uint64_t known_size = 0;
  uint64_t read_pos = 0;    // next byte to read
  uint64_t line_begin = 0;  // where the line being split began
  LineSplitter splitter{1};
  bool skip_fragment = false;  // the first "line" is the tail of one before our start
  std::string head;            // first min(1024, known) bytes of content
  std::string tail;            // the last <= kTailBytes bytes read, just before read_pos
  bool rewritten = false;      // those bytes changed: truncated and written again (rule 5)
  int64_t last_growth_us = 0;
  ByteIntervals counted;   // committed + delivered since
  ByteIntervals baseline;  // where following began (for Rewind with nothing committed)
  bool baseline_skip = false;
  std::string committed_key;    // checkpoint key as last read/committed ("" = none)
  std::string committed_value;  // its value
  std::string stored_key;       // a key it moved to (a shorter copy) and
  std::string stored_value;     // the value found there: expected at its first commit

  // Continue reading at `pos` (line-aligned) with no partial line held. The
  // bytes before `pos` are not known: the first read is compared with the
  // file's first bytes instead (Tailer::ReadFile).
  void Reposition(size_t max_line_bytes, uint64_t pos) {
    read_pos = pos;
    line_begin = pos;
    splitter = LineSplitter(max_line_bytes, pos);
    at_eof = false;
    tail.clear();
    rewritten = false;
  }
};

// The key this file's checkpoint is stored under now ("" = nothing to store):
// the full fingerprint once 1024 bytes are known, else the fingerprint of
// exactly the counted prefix [0, End()).
std::string CheckpointKey(const ByteIntervals& counted, const std::string& head);
// True when `key` names content whose first bytes are `head`.
bool CheckpointKeyMatches(const std::string& key, const std::string& head);

}  // namespace apimeter

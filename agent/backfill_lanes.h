// BackfillLanes: runs the lines of one file through several LinePipelines at
// once, one thread per lane, so a backfill uses every core it is given
// (agent/backfill.h).
//
// Promise:
// - Submitted batches of consecutive lines go to the lanes in turn (batch k
//   to lane k % lanes); a lane processes its batches in order, each as one
//   segment (LinePipeline::StartSegment).
// - Drain() returns once every batch submitted so far is processed, and then
//   counts each segment's held rejected lines in the minute of the last good
//   line before that segment in file order (of the clock when there is
//   none): every line lands in the minute it would with one pipeline. After
//   Drain the lanes are idle until the next Submit, so the caller may take
//   their aggregators' batches.
// - Memory: at most kMaxQueuedPerLane batches wait per lane (Submit blocks
//   past that), so the lines held are bounded by lanes × (kMaxQueuedPerLane +
//   1) batches. MemoryBytes() is the sum of the lanes' Aggregator::MemoryBytes
//   as of each lane's last finished batch.
// Thread-safety: Submit, Drain and MemoryBytes from the owner's thread only;
// a lane's pipeline and aggregator belong to its thread between a Submit and
// the next Drain. The destructor stops and joins the lanes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/line_pipeline.h"
#include "aggregator/aggregator.h"

namespace apimeter {

// One lane: a pipeline and the aggregator it feeds.
// With a spare (one lane only), the backfill flushes on a thread of its own:
// when a flush is due, the pipeline switches to the empty one and the full
// one is taken and committed while the next lines are read (agent/backfill.h).
struct BackfillLane {
  LinePipeline* pipeline = nullptr;
  Aggregator* aggregator = nullptr;
  Aggregator* spare = nullptr;
};

// Consecutive lines of a file, their bytes back to back.
class LineBatch {
 public:
  struct Line {
    size_t offset = 0;  // in bytes()
    size_t length = 0;
    uint64_t begin = 0;  // the line's start offset in the file
    bool too_long = false;
  };
  void Add(std::string_view line, uint64_t begin, bool too_long) {
    lines_.push_back(Line{bytes_.size(), line.size(), begin, too_long});
    bytes_.append(line);
  }
  bool empty() const { return lines_.empty(); }
  const std::vector<Line>& lines() const { return lines_; }
  std::string_view text(const Line& l) const { return {bytes_.data() + l.offset, l.length}; }

 private:
  std::string bytes_;
  std::vector<Line> lines_;
};

class BackfillLanes {
 public:
  static constexpr size_t kMaxQueuedPerLane = 2;

  // source: the file's path, as the pipelines report it.
  BackfillLanes(std::span<const BackfillLane> lanes, std::string source);
  ~BackfillLanes();
  BackfillLanes(const BackfillLanes&) = delete;
  BackfillLanes& operator=(const BackfillLanes&) = delete;

  void Submit(LineBatch batch);
  void Drain();
  size_t MemoryBytes() const;

 private:
  struct Segment {
    uint64_t seq = 0;
    uint64_t held_rejects = 0;
    int64_t last_time_us = -1;  // of the segment's last good line; -1: none
  };
  struct Lane {
    BackfillLane io;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<uint64_t, LineBatch>> queue;  // (seq, batch)
    bool busy = false;
    bool stop = false;
    std::vector<Segment> finished;  // since the last Drain
    std::atomic<size_t> memory_bytes{0};
    std::thread thread;
  };

  void Run(Lane& lane);

  std::string source_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  uint64_t next_seq_ = 0;
  int64_t last_good_time_us_ = -1;  // of the last good line of the drained segments
};

}  // namespace apimeter

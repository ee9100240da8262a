#include "agent/backfill_lanes.h"

#include <algorithm>
#include <utility>

namespace apimeter {

BackfillLanes::BackfillLanes(std::span<const BackfillLane> lanes, std::string source)
    : source_(std::move(source)) {
  for (const BackfillLane& io : lanes) {
    auto lane = std::make_unique<Lane>();
    lane->io = io;
    lanes_.push_back(std::move(lane));
  }
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { Run(*l); });
}

BackfillLanes::~BackfillLanes() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard lock(lane->mu);
      lane->stop = true;
    }
    lane->cv.notify_all();
  }
  for (auto& lane : lanes_) lane->thread.join();
}

void BackfillLanes::Run(Lane& lane) {
  for (;;) {
    std::pair<uint64_t, LineBatch> work;
    {
      std::unique_lock lock(lane.mu);
      lane.cv.wait(lock, [&] { return lane.stop || !lane.queue.empty(); });
      if (lane.stop) return;
      work = std::move(lane.queue.front());
      lane.queue.pop_front();
      lane.busy = true;
    }
    lane.cv.notify_all();  // room in the queue
    LinePipeline& pipeline = *lane.io.pipeline;
    pipeline.StartSegment();
    const LineBatch& batch = work.second;
    for (const LineBatch::Line& line : batch.lines()) {
      if (line.too_long) {
        pipeline.ProcessTooLong(source_, line.begin);
      } else {
        pipeline.Process(batch.text(line), source_, line.begin);
      }
    }
    lane.memory_bytes.store(lane.io.aggregator->MemoryBytes(), std::memory_order_relaxed);
    {
      std::lock_guard lock(lane.mu);
      lane.finished.push_back(
          Segment{work.first, pipeline.held_rejects(), pipeline.segment_last_time_us()});
      lane.busy = false;
    }
    lane.cv.notify_all();
  }
}

void BackfillLanes::Submit(LineBatch batch) {
  Lane& lane = *lanes_[next_seq_ % lanes_.size()];
  {
    std::unique_lock lock(lane.mu);
    lane.cv.wait(lock, [&] { return lane.queue.size() < kMaxQueuedPerLane; });
    lane.queue.emplace_back(next_seq_, std::move(batch));
  }
  ++next_seq_;
  lane.cv.notify_all();
}

void BackfillLanes::Drain() {
  std::vector<std::pair<Segment, Lane*>> segments;
  for (auto& lane : lanes_) {
    std::unique_lock lock(lane->mu);
    lane->cv.wait(lock, [&] { return lane->queue.empty() && !lane->busy; });
    for (const Segment& s : lane->finished) segments.emplace_back(s, lane.get());
    lane->finished.clear();
  }
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.first.seq < b.first.seq; });
  // Every lane is idle: their pipelines may be used from this thread.
  for (const auto& [segment, lane] : segments) {
    lane->io.pipeline->CountHeldRejects(segment.held_rejects, last_good_time_us_);
    if (segment.last_time_us >= 0) last_good_time_us_ = segment.last_time_us;
  }
  for (auto& lane : lanes_) {
    lane->memory_bytes.store(lane->io.aggregator->MemoryBytes(), std::memory_order_relaxed);
  }
}

size_t BackfillLanes::MemoryBytes() const {
  size_t total = 0;
  for (const auto& lane : lanes_) total += lane->memory_bytes.load(std::memory_order_relaxed);
  return total;
}

}  // namespace apimeter

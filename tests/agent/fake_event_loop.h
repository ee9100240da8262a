// FakeEventLoop: an EventLoop whose time moves only when a test says so.
//
// Promise: RunFor(d) runs posted callbacks, then every timer due within d in
// order of due time (ties in the order they were set), moving Now() to each
// timer's time as it fires, and ends at Now() + d. Block(d) moves time on
// without firing anything (as a blocked thread would). A ManualClock given to
// it moves by the same amounts, so wall and loop time agree. Not thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "agent/event_loop.h"
#include "common/clock.h"

namespace apimeter::testing {

class FakeEventLoop final : public EventLoop {
 public:
  explicit FakeEventLoop(ManualClock* wall = nullptr) : wall_(wall) {}

  TimePoint Now() const override { return now_; }
  std::unique_ptr<LoopTimer> NewTimer() override {
    auto slot = std::make_shared<Slot>();
    slots_.push_back(slot);
    return std::make_unique<Timer>(this, slot);
  }
  void Post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }
  void Block(std::chrono::milliseconds duration) override {
    ++blocks_;
    Advance(duration);
  }

  // Runs what is due within `duration` (see above).
  void RunFor(std::chrono::milliseconds duration) {
    const TimePoint end = now_ + duration;
    for (;;) {
      RunPosted();
      Slot* next = nullptr;
      for (auto& weak : slots_) {
        auto slot = weak.lock();
        if (!slot || !slot->armed || slot->when > end) continue;
        if (!next || slot->when < next->when ||
            (slot->when == next->when && slot->seq < next->seq)) {
          next = slot.get();
        }
      }
      if (!next) break;
      if (next->when > now_) Advance(next->when - now_);
      next->armed = false;
      auto fn = std::move(next->fn);
      fn();
    }
    if (end > now_) Advance(end - now_);
  }

  // Timers armed now (a cancelled or fired timer is not).
  size_t armed_timers() const {
    return std::count_if(slots_.begin(), slots_.end(), [](const std::weak_ptr<Slot>& w) {
      auto s = w.lock();
      return s && s->armed;
    });
  }
  int blocks() const { return blocks_; }

 private:
  struct Slot {
    TimePoint when{};
    uint64_t seq = 0;
    bool armed = false;
    std::function<void()> fn;
  };
  class Timer final : public LoopTimer {
   public:
    Timer(FakeEventLoop* loop, std::shared_ptr<Slot> slot) : loop_(loop), slot_(std::move(slot)) {}
    void At(TimePoint when, std::function<void()> fn) override {
      slot_->when = when;
      slot_->seq = ++loop_->seq_;
      slot_->armed = true;
      slot_->fn = std::move(fn);
    }
    void Cancel() override {
      slot_->armed = false;
      slot_->fn = nullptr;
    }

   private:
    FakeEventLoop* loop_;
    std::shared_ptr<Slot> slot_;
  };

  void RunPosted() {
    while (!posted_.empty()) {
      auto fn = std::move(posted_.front());
      posted_.pop_front();
      fn();
    }
  }
  void Advance(std::chrono::steady_clock::duration d) {
    now_ += d;
    if (wall_) wall_->Advance(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  }

  ManualClock* wall_;
  TimePoint now_{std::chrono::hours(1)};  // not the zero time point
  uint64_t seq_ = 0;
  int blocks_ = 0;
  std::deque<std::function<void()>> posted_;
  std::vector<std::weak_ptr<Slot>> slots_;
};

}  // namespace apimeter::testing

// EventLoop: the timers and the queue of the live agent's single thread, so
// tests drive time by hand instead of sleeping.
//
// Promise:
// - Now() is a monotonic clock (steady_clock in production).
// - A LoopTimer calls its callback once, on the loop thread, when Now()
//   reaches the time it was set to. Setting it again, or Cancel(), drops a
//   pending call (it is never made). A timer may be set from its own callback.
// - Post() runs a callback on the loop thread after the current one returns.
// - Block() holds the loop thread for a while (nothing else runs meanwhile):
//   only for pacing the retries of a final flush at exit.
// AsioEventLoop runs on a Boost.Asio io_context. Thread-safety: not
// thread-safe; everything is called on the loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace apimeter {

class LoopTimer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~LoopTimer() = default;
  virtual void At(TimePoint when, std::function<void()> fn) = 0;
  virtual void Cancel() = 0;
};

class EventLoop {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~EventLoop() = default;
  virtual TimePoint Now() const = 0;
  virtual std::unique_ptr<LoopTimer> NewTimer() = 0;
  virtual void Post(std::function<void()> fn) = 0;
  virtual void Block(std::chrono::milliseconds duration) = 0;
};

class AsioEventLoop final : public EventLoop {
 public:
  explicit AsioEventLoop(boost::asio::io_context& io) : io_(io) {}
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<LoopTimer> NewTimer() override;
  void Post(std::function<void()> fn) override;
  void Block(std::chrono::milliseconds duration) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace apimeter

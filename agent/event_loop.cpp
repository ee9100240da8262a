#include "agent/event_loop.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

namespace apimeter {
namespace {

class AsioTimer final : public LoopTimer {
 public:
  explicit AsioTimer(boost::asio::io_context& io) : timer_(io) {}
  void At(TimePoint when, std::function<void()> fn) override {
    timer_.expires_at(when);  // cancels a pending wait: its handler sees an error
    timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }
  void Cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace

std::unique_ptr<LoopTimer> AsioEventLoop::NewTimer() { return std::make_unique<AsioTimer>(io_); }

void AsioEventLoop::Post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

void AsioEventLoop::Block(std::chrono::milliseconds duration) {
  std::this_thread::sleep_for(duration);
}

}  // namespace apimeter

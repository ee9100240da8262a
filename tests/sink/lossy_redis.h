// LossyRedis: a RedisCommands over a real connection that can lose one
// round trip, as a network failure or a crash would: before it is sent (the
// server sees nothing) or after (the server ran it, the reply is lost). The
// caller then gets kUnavailable and the connection is dropped and reopened,
// as RedisClient does after an I/O error (so no WATCH or MULTI state leaks
// into the next round trip).
//
// Promise: with nothing armed it is the real connection. An armed loss
// fires on the n-th round trip (Command or Pipeline) after Arm, once.
// Not thread-safe.
#pragma once

#include <memory>
#include <utility>

#include "sink/redis_client.h"

namespace apimeter::testing {

class LossyRedis final : public RedisCommands {
 public:
  enum class Loss { kBeforeSend, kAfterRun };

  explicit LossyRedis(RedisEndpoint endpoint)
      : endpoint_(std::move(endpoint)), real_(std::make_unique<RedisClient>(endpoint_)) {}

  // Loses round trip number `n` (0 = the next one) from now on.
  void Arm(int n, Loss loss) {
    countdown_ = n;
    loss_ = loss;
  }
  void Disarm() { countdown_ = -1; }
  bool fired() const { return fired_; }

  Status Connect() override { return real_->Connect(); }
  Result<RedisReply> Command(const RedisArgs& args) override {
    auto r = Pipeline({args});
    if (!r.ok()) return r.status();
    return std::move(r->front());
  }
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisArgs>& commands) override {
    if (countdown_ < 0 || countdown_-- > 0) return Run(commands);
    fired_ = true;
    if (loss_ == Loss::kAfterRun) (void)Run(commands);
    sent_before_ += real_->commands_sent();
    real_ = std::make_unique<RedisClient>(endpoint_);  // the connection is gone
    return Status::Unavailable("injected: connection lost " +
                               std::string(loss_ == Loss::kAfterRun ? "after" : "before") +
                               " the round trip");
  }
  uint64_t commands_sent() const override { return sent_before_ + real_->commands_sent(); }

 private:
  Result<std::vector<RedisReply>> Run(const std::vector<RedisArgs>& commands) {
    return real_->Pipeline(commands);
  }

  RedisEndpoint endpoint_;
  std::unique_ptr<RedisClient> real_;
  int countdown_ = -1;
  Loss loss_ = Loss::kBeforeSend;
  bool fired_ = false;
  uint64_t sent_before_ = 0;
};

}  // namespace apimeter::testing

// AlertService: the evaluator and the notification deliverer as two
// background threads, for `apimeter alerts` and `apimeter serve` (with
// alerts.evaluate_in_serve).
//
// Promise: the evaluation thread runs AlertRunner::Tick shortly after each
// minute closes and often enough to renew the lease (every lease_ttl / 3);
// the delivery thread drains the outbox every second. Each thread has its own
// Redis connection and QueryEngine, so a slow or failing webhook never delays
// evaluation, and evaluation never touches the connections of the caller.
// Errors are logged and retried on the next pass. Stop() (also run by the
// destructor) wakes both threads, waits for them and releases the lease so
// another evaluator takes over at once. Thread-safety: Start/Stop from one
// thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "config/alerts_config.h"
#include "query/range_plan.h"
#include "sink/redis_client.h"

namespace apimeter {

// A new, unconnected client for redis.url or redis.cluster (one per thread).
using RedisFactory = std::function<std::unique_ptr<RedisCommands>()>;

struct AlertServiceOptions {
  AlertsConfig config;
  RedisFactory redis;
  std::string prefix;
  int64_t schema = 2;  // redis.schema: the storage the rules read
  RetentionSeconds retention;
};

class AlertService {
 public:
  AlertService(AlertServiceOptions options, const Clock* clock);
  ~AlertService();
  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  void Start();
  void Stop();
  // Rule-instance evaluations held back on partial data since Start (a
  // counter for metrics; AlertEngine::partial_instances). Any thread.
  uint64_t partial_instances() const { return partial_instances_.load(); }

 private:
  void EvaluateLoop();
  void DeliverLoop();
  // Waits up to ms or until Stop; true when stopping.
  bool WaitOrStop(int64_t ms);

  AlertServiceOptions options_;
  const Clock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string owner_;
  std::thread evaluator_, deliverer_;
  std::atomic<uint64_t> partial_instances_{0};
};

}  // namespace apimeter

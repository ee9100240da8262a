// FlushWithRetry: the backoff loop every writer shares (see sink/sink.h).
#include "sink/sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace apimeter {

void RealSleeper::SleepFor(std::chrono::milliseconds duration) {
  std::this_thread::sleep_for(duration);
}

Status FlushWithRetry(Sink& sink, const FlushBatch& batch, const RetryPolicy& policy,
                      Sleeper& sleeper) {
  std::chrono::milliseconds delay = policy.initial, slept{0};
  for (int attempt = 1;; ++attempt) {
    Status st = sink.Flush(batch);
    if (st.ok()) {
      if (attempt > 1) spdlog::info("flush succeeded on attempt {}", attempt);
      return st;
    }
    // Only an unreachable Redis is worth waiting for; the rest need the caller.
    if (st.code() != StatusCode::kUnavailable) {
      spdlog::error("flush attempt {} failed, not retrying: {}", attempt, st.ToString());
      return st;
    }
    const bool out_of_attempts = policy.max_attempts > 0 && attempt >= policy.max_attempts;
    const bool out_of_time =
        policy.max_total_sleep.count() > 0 && slept + delay > policy.max_total_sleep;
    if (out_of_attempts || out_of_time) {
      spdlog::error(
          "flush attempt {} failed: {}; giving up after {} attempt(s) and {} ms of "
          "waiting",
          attempt, st.ToString(), attempt, slept.count());
      return st;
    }
    spdlog::warn("flush attempt {} failed: {}; retrying in {} ms", attempt, st.ToString(),
                 delay.count());
    sleeper.SleepFor(delay);
    slept += delay;
    delay = std::min(std::max(delay * 2, std::chrono::milliseconds(1)), policy.max);
  }
}

}  // namespace apimeter

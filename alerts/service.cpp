// AlertService: evaluation and delivery threads (see service.h).
#include "alerts/service.h"

#include <spdlog/spdlog.h>

#include "alerts/engine.h"
#include "alerts/http_post.h"
#include "alerts/notifier.h"
#include "alerts/runner.h"
#include "alerts/store.h"
#include "query/series_store.h"
#include "query/query_engine.h"

namespace apimeter {

AlertService::AlertService(AlertServiceOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock), owner_(NewLeaseOwner()) {}

AlertService::~AlertService() { Stop(); }

void AlertService::Start() {
  evaluator_ = std::thread([this] { EvaluateLoop(); });
  deliverer_ = std::thread([this] { DeliverLoop(); });
}

void AlertService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (evaluator_.joinable()) evaluator_.join();
  if (deliverer_.joinable()) deliverer_.join();
}

bool AlertService::WaitOrStop(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

void AlertService::EvaluateLoop() {
  std::unique_ptr<RedisCommands> redis = options_.redis();
  QueryEngine query(MakeSeriesStore(options_.schema, redis.get(), options_.prefix, nullptr),
                    options_.retention, clock_);
  QueryEngineSource source(&query);
  AlertEngine engine(options_.config, &source);
  AlertStore store(redis.get(), options_.prefix, owner_, options_.config.history);
  Notifier notifier(options_.config, HttpPostJson, [](int64_t) { return false; });
  AlertRunner runner(options_.config, &engine, &store, &notifier, clock_);
  bool was_leader = false;
  do {
    Result<TickResult> r = runner.Tick();
    if (!r.ok()) {
      spdlog::error("{}", r.status().message());
    } else {
      if (r->leader != was_leader) {
        spdlog::info("alerts: {} the evaluator lease", r->leader ? "holding" : "not holding");
        was_leader = r->leader;
      }
      if (r->events > 0) spdlog::info("alerts: {} new alert events", r->events);
      if (r->partial > 0) {
        partial_instances_ += static_cast<uint64_t>(r->partial);
        spdlog::warn("alerts: {} rule instance(s) kept their state: their data was partial "
                     "(damaged blocks, logged above)",
                     r->partial);
      }
    }
    // Next pass: just after the next minute closes, or sooner to renew the lease.
    const int64_t now_ms = clock_->NowMicros() / 1000;
    const int64_t next_close_ms = ((now_ms / 1000 - options_.config.grace_s) / 60 + 1) * 60000 +
                                  options_.config.grace_s * 1000 + 200;
    const int64_t wait = std::min(next_close_ms - now_ms, options_.config.lease_ttl_ms / 3);
    if (WaitOrStop(std::max<int64_t>(wait, 100))) break;
  } while (true);
  if (Status st = store.ReleaseLease(); !st.ok()) {
    spdlog::warn("alerts: releasing the lease: {}", st.message());
  }
}

void AlertService::DeliverLoop() {
  std::unique_ptr<RedisCommands> redis = options_.redis();
  AlertStore store(redis.get(), options_.prefix, owner_, options_.config.history);
  Notifier notifier(options_.config, HttpPostJson, [this](int64_t ms) { return !WaitOrStop(ms); });
  auto stopping = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  };
  do {
    Result<DrainResult> n = DrainOutbox(&store, notifier, WebhookNames(options_.config), stopping);
    if (!n.ok()) spdlog::error("alerts: delivering notifications: {}", n.status().message());
  } while (!WaitOrStop(1000));
}

}  // namespace apimeter

// LiveSink: what the live agent needs from its store, so tests replace Redis
// with a fake (one that fails flushes, answers no PING, ...).
//
// Promise:
// - Flush has Sink::Flush's contract (sink/sink.h): all of the
//   batch and its checkpoints or nothing; kAborted when a checkpoint moved;
//   after kUnavailable the same batch may be passed again, never counted twice.
// - The agent's own state (last_alive, per host) is read and written outside
//   flushes; its failures are returned, never swallowed.
// - Errors are Status values; nothing throws.
// - Maintain runs the store's bounded background work (compaction), off the
//   flush's critical path; its failure is returned, and changes no count.
// RedisLiveSink adapts a Sink (either schema) and its client. Thread-safety: not
// thread-safe; the agent's loop thread owns it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/agent_metrics.h"
#include "aggregator/flush_batch.h"
#include "common/result.h"
#include "common/status.h"
#include "sink/redis_client.h"
#include "sink/sink.h"

namespace apimeter {

class LiveSink {
 public:
  virtual ~LiveSink() = default;
  // Where the store is, safe to log (no password).
  virtual std::string Describe() const = 0;
  // OK when the store answers and holds the configured storage schema
  // (Sink::CheckSchema; the agent waits, saying why, until it does).
  virtual Status Ping() = 0;
  // The stored checkpoint value of one file ("" when none).
  virtual Result<std::string> ReadCheckpoint(std::string_view host,
                                             std::string_view fingerprint) = 0;
  virtual Status Flush(const FlushBatch& batch) = 0;
  // The host's last_alive (epoch seconds; 0 when never written).
  virtual Result<int64_t> ReadLastAlive(std::string_view host) = 0;
  // Writes last_alive; only_if_unset: keep a value already there (HSETNX).
  virtual Status WriteLastAlive(std::string_view host, int64_t seconds, bool only_if_unset) = 0;
  virtual Status Maintain(size_t /*max_groups*/) { return Status::Ok(); }
  // Adds the store's own counters (cluster redirects, ...) to the metrics.
  virtual void FillMetrics(AgentMetrics* /*metrics*/) {}
};

// The production store: `sink` and `redis` outlive it; `prefix` is
// redis.prefix (the agent's state is the hash <prefix>:agent:<host>).
class RedisLiveSink final : public LiveSink {
 public:
  RedisLiveSink(Sink* sink, RedisCommands* redis, std::string prefix, std::string url)
      : sink_(sink), redis_(redis), prefix_(std::move(prefix)), url_(std::move(url)) {}
  std::string Describe() const override;
  Status Ping() override;
  Result<std::string> ReadCheckpoint(std::string_view host, std::string_view fingerprint) override;
  Status Flush(const FlushBatch& batch) override;
  Status Maintain(size_t max_groups) override { return sink_->Maintain(max_groups); }
  Result<int64_t> ReadLastAlive(std::string_view host) override;
  Status WriteLastAlive(std::string_view host, int64_t seconds, bool only_if_unset) override;
  void FillMetrics(AgentMetrics* metrics) override;

 private:
  std::string StateKey(std::string_view host) const;

  Sink* sink_;
  RedisCommands* redis_;
  std::string prefix_, url_;
};

}  // namespace apimeter

// LiveAgent: `apimeter agent`, the service beside nginx. Wires tailers, the
// line pipeline, the aggregator and the store onto one event loop. Its
// dependencies are injected (LiveAgentDeps: FileSystem, Clock, EventLoop, the
// config file, the store), so tests drive it with fakes
// (tests/agent/live_agent_test.cpp); RunAgent is the edge that builds the
// real ones (Boost.Asio, Redis, signals, inotify, the /metrics endpoint).
//
// Promise:
//  - Timers only tick: a poll tick reads new lines (woken early by inotify
//    where the kernel offers it, by a poll timer everywhere, so network file
//    systems work too); a flush tick (agent.flush_interval, default 2 s)
//    commits the aggregates of every line read so far, the open minute
//    included, together with the tailers' checkpoints, in one transaction.
//  - Exactly once: a checkpoint advances only in the transaction that holds
//    its lines' counts, so kill -9 at any moment and a restart give exact
//    counts. At most one batch is in flight; while Redis is down it is
//    retried as is (same id) on the flush ticks, after a backoff doubling
//    from 1 s to 30 s; reading continues into memory until limits.memory_mb,
//    then pauses (the log file is the buffer) and resumes when the batch
//    commits.
//  - After each flush tick with nothing left to commit, the store's
//    background work (LiveSink::Maintain: compaction, at most
//    kMaxCompactionsPerTick groups) runs as a separate loop callback, so it
//    never delays or times a flush; its failure changes no count.
//  - SIGTERM/SIGINT (Shutdown): stop reading, flush (retrying up to 10 s),
//    exit 0; if the flush cannot commit, exit 1: the uncommitted lines are
//    re-read on start.
//  - SIGHUP (Hangup): the new config is validated; if it is bad it is refused
//    with the reason and the agent keeps running on the old one; if good,
//    pending counts are committed first and tailers resume from their
//    checkpoints under the new config (new paths, formats, routes), losing
//    nothing.
// Not thread-safe: everything runs on the loop thread.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/agent_metrics.h"
#include "agent/event_loop.h"
#include "agent/file_system.h"
#include "agent/line_pipeline.h"
#include "agent/live_sink.h"
#include "agent/rejected_lines.h"
#include "agent/runtime.h"
#include "agent/tailer.h"
#include "agent/traffic_metrics.h"
#include "aggregator/aggregator.h"
#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"

namespace apimeter {

struct LiveAgentArgs {
  std::string config;
  bool from_start = false;      // read files present at first start from their beginning
  std::string metrics_listen;   // overrides agent.metrics_listen when set
  bool show_raw_lines = false;  // rejected lines logged unmasked (API keys shown)
  std::string build_version, build_revision;  // for apimeter_build_info
};

// What the agent is built from. The pointers outlive the agent.
struct LiveAgentDeps {
  FileSystem* fs = nullptr;      // the logs are read through it
  const Clock* clock = nullptr;  // wall time: line ages, last_alive, heartbeats
  EventLoop* loop = nullptr;     // timers, and monotonic time for the flush schedule
  // Reads the config file; called at start and again on each SIGHUP. A bad
  // config is an error naming file:line.
  std::function<Result<Config>()> load_config;
  // The store for a runtime just built from a config (not connected yet); it
  // may point into that runtime, which outlives it.
  std::function<Result<std::unique_ptr<LiveSink>>(Runtime&)> open_sink;
};

class LiveAgent {
 public:
  LiveAgent(LiveAgentArgs args, LiveAgentDeps deps);
  ~LiveAgent();
  LiveAgent(const LiveAgent&) = delete;
  LiveAgent& operator=(const LiveAgent&) = delete;

  // Loads the config and builds the runtime and the store (nothing is
  // connected yet). An error is a config problem: the caller exits 2.
  Status Init();
  // After Init: the config in use (with the command-line overrides).
  const Config& config() const { return rt_->config(); }
  // After Init: the directories of the sources' paths (for inotify).
  std::vector<std::string> WatchDirs() const;
  // Waits for the store (retrying with backoff), then tails, polling every
  // poll_interval, and flushes every agent.flush_interval.
  void Start(std::chrono::milliseconds poll_interval);

  // Reads new lines now (the files changed). Does nothing before the store
  // answered, after Shutdown or while paused by limits.memory_mb.
  void Poll();
  // SIGHUP: commits what was read, then reloads the config (see above).
  void Hangup();
  // SIGTERM/SIGINT: stops every timer, then commits what was read, retrying
  // for up to 10 s. Not OK when the last counts could not be committed (their
  // lines are re-read on the next start). Later calls do nothing.
  Status Shutdown(int sig);

  std::string RenderMetrics();
  const AgentMetrics& metrics() const { return metrics_; }

 private:
  class SinkCheckpointLookup;
  class PipelineConsumer;
  struct SourceTail {
    SourceRuntime* source = nullptr;
    std::unique_ptr<LinePipeline> pipeline;
    std::unique_ptr<PipelineConsumer> consumer;
    std::unique_ptr<Tailer> tailer;
    uint64_t parsed_before = 0, rejected_before = 0;  // pipeline totals already in metrics
    std::array<uint64_t, kCustomerKeyErrorCount> key_errors_before{};
  };
  struct InFlight {
    FlushBatch batch;
    bool caught_up = false;  // every tailer had read to the end of its files
    std::vector<std::vector<FileCheckpoint>> per_tail;  // to MarkCommitted on success
  };

  // --- start-up: Redis must answer before tailing, to read checkpoints. ---
  void TryStart();

  // (Re)creates tailers and pipelines from rt_; `fresh_sources` are sources
  // whose paths are new (treated as a first start).
  void BuildTails(bool first_start, const std::set<size_t>& fresh_sources);

  // A fresh aggregator and pipelines; the tailers keep their positions.
  void ResetAggregation();
  // The config from load_config_ with the command-line overrides applied.
  Result<Config> LoadConfig();

  // --- reading ---
  void SchedulePoll(std::chrono::milliseconds after);

  void UpdateReadMetrics();

  // The operator sees what does not parse: the first kLoggedRejectsPerSummary
  // rejected lines of each summary interval are logged (secrets masked unless
  // --show-raw-lines), the others only counted.
  void LogRejectedSamples();
  void NoteUnloggedRejects();

  // Tailer stats restart at zero when tailers are rebuilt; keep totals monotonic.
  void FoldTailerStats();

  // --- flushing ---
  // Fixed rate: the next tick is due one interval after the previous one was
  // due, not after the flush finished, so a slow flush does not stretch the
  // period (a tick that is already late fires at once).
  void ScheduleFlush();

  bool TakeInFlight();

  // One attempt to commit what has been read. Returns the attempt's status.
  Status FlushOnce();

  // While idle and caught up, keep last_alive fresh (every 30 s) so a
  // restart knows which rotated files appeared while it was stopped.
  void Heartbeat();

  void FlushTick();

  // --- signals ---
  void Reload();

  // --- metrics ---
  std::string RenderSummary();
  void ScheduleSummary();

  LiveAgentArgs args_;
  FileSystem* fs_;
  const Clock* clock_;
  EventLoop* loop_;
  std::function<Result<Config>()> load_config_;
  std::function<Result<std::unique_ptr<LiveSink>>(Runtime&)> open_sink_;
  std::unique_ptr<LoopTimer> poll_timer_, flush_timer_, summary_timer_, start_timer_;
  std::chrono::milliseconds poll_interval_{1000};
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<LiveSink> sink_;  // after rt_: destroyed first
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<SinkCheckpointLookup> lookup_;
  RejectedLines rejected_;
  uint64_t rejects_logged_ = 0;      // rejected lines logged in this summary interval
  uint64_t rejects_at_summary_ = 0;  // rejected_.total() at the last summary
  std::vector<SourceTail> tails_;
  std::optional<InFlight> in_flight_;
  AgentMetrics metrics_;
  // The observed API's traffic since start (prometheus.traffic); survives
  // reloads, so its counters stay monotonic. Its options are the start's.
  std::unique_ptr<TrafficMetrics> traffic_;
  bool started_ = false, stopping_ = false, reload_requested_ = false, first_start_ = false;
  int64_t last_alive_s_ = 0;
  uint64_t rotations_base_ = 0, truncations_base_ = 0, bytes_base_ = 0;
  std::chrono::milliseconds start_backoff_{500};
  std::chrono::milliseconds flush_backoff_{0};
  EventLoop::TimePoint next_flush_{};
  EventLoop::TimePoint next_tick_{};
  int64_t last_heartbeat_s_ = 0;
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunAgent(const LiveAgentArgs& args);

}  // namespace apimeter

// LiveAgent: `apimeter agent`, the service beside nginx. The one place that
// wires tailers, the line pipeline, the aggregator, the sink and the metrics
// endpoint onto a single-threaded Boost.Asio event loop.
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
//    retried with backoff, reading continues into memory until
//    limits.memory_mb, then pauses (the log file is the buffer) and resumes
//    when the batch commits.
//  - SIGTERM/SIGINT: stop reading, flush (retrying up to 10 s), exit 0; if the
//    flush cannot commit, exit 1: the uncommitted lines are re-read on start.
//  - SIGHUP: the new config is validated; if it is bad it is refused with the
//    reason and the agent keeps running on the old one; if good, pending
//    counts are committed first and tailers resume from their checkpoints
//    under the new config (new paths, formats, routes), losing nothing.
// Not thread-safe: everything runs on the loop thread.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/agent_metrics.h"
#include "agent/file_system.h"
#include "agent/line_pipeline.h"
#include "agent/metrics_server.h"
#include "agent/rejected_lines.h"
#include "agent/runtime.h"
#include "agent/tailer.h"
#include "aggregator/aggregator.h"
#include "common/clock.h"

namespace apimeter {

struct LiveAgentArgs {
  std::string config;
  bool from_start = false;      // read files present at first start from their beginning
  std::string metrics_listen;   // overrides agent.metrics_listen when set
  bool show_raw_lines = false;  // rejected lines logged unmasked (API keys shown)
};

class LiveAgent {
 public:
  explicit LiveAgent(LiveAgentArgs args);
  ~LiveAgent();
  LiveAgent(const LiveAgent&) = delete;
  LiveAgent& operator=(const LiveAgent&) = delete;

  // Runs until SIGTERM/SIGINT; returns the process exit code.
  int Run();

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

  // --- reading ---
  void SchedulePoll(std::chrono::milliseconds after);

  void Poll();

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
  void WaitForHup();

  void Reload();

  void Shutdown(int sig);

  // --- inotify: an early wake-up for polls where the kernel offers it ---
  void SetUpInotify();

  void WaitInotify();

  // --- metrics ---
  std::string RenderMetrics();
  std::string RenderSummary();
  void ScheduleSummary();

  LiveAgentArgs args_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::signal_set hup_;
  boost::asio::steady_timer poll_timer_, flush_timer_, summary_timer_, start_timer_, wake_timer_;
  bool wake_pending_ = false;
  std::unique_ptr<boost::asio::posix::stream_descriptor> inotify_;
  std::array<char, 8192> inotify_buf_{};
  SystemClock clock_;
  RealFileSystem fs_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<SinkCheckpointLookup> lookup_;
  RejectedLines rejected_;
  uint64_t rejects_logged_ = 0;      // rejected lines logged in this summary interval
  uint64_t rejects_at_summary_ = 0;  // rejected_.total() at the last summary
  std::vector<SourceTail> tails_;
  std::optional<InFlight> in_flight_;
  AgentMetrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  bool started_ = false, stopping_ = false, reload_requested_ = false, first_start_ = false;
  int64_t last_alive_s_ = 0;
  uint64_t rotations_base_ = 0, truncations_base_ = 0, bytes_base_ = 0;
  std::chrono::milliseconds start_backoff_{500};
  std::chrono::milliseconds flush_backoff_{0};
  std::chrono::steady_clock::time_point next_flush_{};
  std::chrono::steady_clock::time_point next_tick_{};
  int64_t last_heartbeat_s_ = 0;
  int exit_code_ = 0;  // kExitOk
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunAgent(const LiveAgentArgs& args);

}  // namespace apimeter

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

#include <string>

namespace apimeter {

struct LiveAgentArgs {
  std::string config;
  bool from_start = false;     // read files present at first start from their beginning
  std::string metrics_listen;  // overrides agent.metrics_listen when set
  bool show_raw_lines = false;  // rejected lines logged unmasked (API keys shown)
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int RunAgent(const LiveAgentArgs& args);

}  // namespace apimeter

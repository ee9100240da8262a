// Backfiller: loads whole log files (plain or .gz) into the aggregates,
// exactly once.
//
// Promise: each file is read once from start to end; every line whose byte
// range is already in the file's checkpoint is skipped, every other line is
// counted (parsed or rejected) at its own timestamp, and the file's new
// checkpoint commits in the same Redis transaction as the counts (see
// docs/redis-schema.md). Running it twice on the same files adds nothing the
// second time; an interrupted run resumes exactly. Memory is bounded: the
// aggregator is flushed every `flush_every_lines` lines or when it holds more
// than `memory_limit_bytes`. If another process advances the same file's
// checkpoint meanwhile, the file's uncommitted work is dropped and the file
// is read again from the new checkpoint.
//
// Lanes: RunFile takes one or more (pipeline, aggregator) lanes. With one,
// every line is processed on the caller's thread. With several, the caller's
// thread reads and splits the file and the lanes process consecutive runs of
// its lines on threads of their own (agent/backfill_lanes.h); before each
// flush every lane is drained and their batches are merged
// (aggregator/merge_batches.h), so the same lines give the same counts
// either way, in the same minutes, and the checkpoint still commits with
// exactly the lines it covers.
//
// Flushing on its own thread: with one lane that has a spare aggregator,
// a due flush switches the pipeline to the spare (empty) aggregator and
// takes and commits the full one on a second thread while the file is read
// on. At most one flush is in flight: the next one waits for it, so
// checkpoints still commit in file order, each covering exactly the lines of
// its batch, and memory holds at most two aggregators (the caller sizes
// memory_limit_bytes per aggregator). A flush that fails fails the file as
// before; the lines read since are dropped from the aggregators uncounted
// (a retry reads them again). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "agent/backfill_lanes.h"
#include "agent/line_pipeline.h"
#include "aggregator/aggregator.h"
#include "common/clock.h"
#include "sink/sink.h"

namespace apimeter {

struct BackfillOptions {
  std::string host;
  uint64_t flush_every_lines = 2000000;
  size_t memory_limit_bytes = size_t{256} << 20;
  size_t max_line_bytes = 64 * 1024;
  size_t read_chunk_bytes = 1 << 20;
  RetryPolicy retry{10, std::chrono::milliseconds(200), std::chrono::milliseconds(10000)};
};

struct BackfillStats {
  uint64_t files = 0;
  uint64_t lines = 0;              // lines read in this run (counted now)
  uint64_t already_counted = 0;    // lines skipped: inside an existing checkpoint
  uint64_t bytes = 0;              // decompressed bytes read
  uint64_t flushes = 0;
  std::vector<std::string> truncated_files;  // .gz files cut short
  std::set<std::string> endpoints;           // distinct names seen (bounded by the limits)
  std::set<std::string> customers;
};

// Called after each chunk with (disk bytes done in this file, lines so far).
using BackfillProgressFn = std::function<void(uint64_t disk_done, uint64_t lines)>;

class Backfiller {
 public:
  Backfiller(BackfillOptions options, Sink* sink, Sleeper* sleeper)
      : options_(std::move(options)), sink_(sink), sleeper_(sleeper) {}

  // lanes: at least one; their aggregators are empty when RunFile starts and
  // when it returns OK.
  Status RunFile(const std::string& path, std::span<const BackfillLane> lanes,
                 const BackfillProgressFn& progress = {});
  // One lane, on this thread.
  Status RunFile(const std::string& path, LinePipeline& pipeline, Aggregator& aggregator,
                 const BackfillProgressFn& progress = {}) {
    const BackfillLane lane{&pipeline, &aggregator};
    return RunFile(path, std::span<const BackfillLane>(&lane, 1), progress);
  }
  const BackfillStats& stats() const { return stats_; }

 private:
  Status RunFileOnce(const std::string& path, std::span<const BackfillLane> lanes,
                     const BackfillProgressFn& progress);
  // What one flush did, for stats_ (a flush may run on another thread).
  struct FlushOutcome {
    Status status;
    bool committed = false;  // a batch was written (an empty one is not)
    std::set<std::string> endpoints, customers;
  };
  // Takes the batches of `aggregators`, merges them and commits them with
  // the checkpoint from -> to (none when equal). Touches no member but the
  // sink (one flush at a time) and the const options, so it may run on a
  // thread of its own.
  FlushOutcome TakeAndCommit(const std::vector<Aggregator*>& aggregators,
                             const std::string& fingerprint, const std::string& from,
                             const std::string& to) const;
  void Absorb(FlushOutcome& outcome);

  BackfillOptions options_;
  Sink* sink_;
  Sleeper* sleeper_;
  BackfillStats stats_;
};

// The end of a backfill (storage v2): marks the sink's writing done and
// compacts every group it wrote that holds 2+ blocks, open buckets included
// (a later writer appends after the base), `chunk` groups per round trip,
// until none is left or a round fails (its error is returned; correctness
// never depends on compaction). *compacted counts the groups compacted. A
// v1 sink has none.
Status CompactWrittenGroups(Sink& sink, size_t chunk, uint64_t* compacted);

// Orders files oldest rotation first: "x.log.10.gz" before "x.log.2" before
// "x.log"; files without a rotation number by modification time.
std::vector<std::string> SortOldestFirst(std::vector<std::string> paths);

}  // namespace apimeter

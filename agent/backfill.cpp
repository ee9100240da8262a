#include "agent/backfill.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <optional>
#include <utility>
#include <random>
#include <regex>

#include "agent/byte_intervals.h"
#include "agent/batch_id.h"
#include "agent/line_splitter.h"
#include "agent/log_file_reader.h"
#include "aggregator/merge_batches.h"

namespace apimeter {
namespace {

constexpr int kMaxFileAttempts = 3;
constexpr size_t kMaxDistinctNamesNoted = 100000;

// Rotation number of "name.N" or "name.N.gz"; 0 when there is none.
long RotationNumber(const std::string& path) {
  static const std::regex re(R"(\.(\d+)(\.gz)?$)");
  std::smatch m;
  if (std::regex_search(path, m, re)) return std::stol(m[1].str());
  return 0;
}

int64_t ModTime(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
}


}  // namespace

std::vector<std::string> SortOldestFirst(std::vector<std::string> paths) {
  struct Key {
    long rotation;
    int64_t mtime;
    std::string path;
  };
  std::vector<Key> keys;
  keys.reserve(paths.size());
  for (auto& p : paths) keys.push_back({RotationNumber(p), ModTime(p), std::move(p)});
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.rotation != b.rotation) return a.rotation > b.rotation;
    if (a.mtime != b.mtime) return a.mtime < b.mtime;
    return a.path < b.path;
  });
  std::vector<std::string> out;
  for (auto& k : keys) out.push_back(std::move(k.path));
  return out;
}

Status CompactWrittenGroups(Sink& sink, size_t chunk, uint64_t* compacted) {
  const uint64_t before = sink.ExportStats().compactions;
  sink.MarkWritingDone();
  Status st;
  // Each successful round forgets the groups it took, so this ends.
  while (sink.ExportStats().compactions_pending > 0) {
    st = sink.Maintain(chunk);
    if (!st.ok()) break;
  }
  *compacted = sink.ExportStats().compactions - before;
  return st;
}

Backfiller::FlushOutcome Backfiller::TakeAndCommit(const std::vector<Aggregator*>& aggregators,
                                                   const std::string& fingerprint,
                                                   const std::string& from,
                                                   const std::string& to) const {
  FlushOutcome out;
  std::vector<FlushBatch> parts;
  parts.reserve(aggregators.size());
  for (Aggregator* a : aggregators) parts.push_back(a->TakeBatch());
  FlushBatch batch = MergeFlushBatches(std::move(parts));
  // One id per batch: a retry after an unknown outcome is recognised by it.
  batch.id = NewBatchId();
  if (to != from) batch.checkpoints.push_back(FileCheckpoint{fingerprint, from, to});
  if (batch.Empty()) {
    out.status = Status::Ok();
    return out;
  }
  for (const auto& d : batch.series) {
    if (d.tier != Tier::kDay) continue;
    if (d.kind == SeriesKind::kEndpoint && out.endpoints.size() < kMaxDistinctNamesNoted) {
      out.endpoints.insert(d.name);
    } else if (d.kind == SeriesKind::kCustomer && out.customers.size() < kMaxDistinctNamesNoted) {
      out.customers.insert(d.name);
    }
  }
  // On the flush thread this touches only the sink and the sleeper, and one
  // flush runs at a time (RunFileOnce waits for the one in flight).
  out.status = FlushWithRetry(*sink_, batch, options_.retry, *sleeper_);
  out.committed = out.status.ok();
  return out;
}

void Backfiller::Absorb(FlushOutcome& outcome) {
  if (outcome.committed) ++stats_.flushes;
  auto merge = [](std::set<std::string>& from, std::set<std::string>& into) {
    while (!from.empty() && into.size() < kMaxDistinctNamesNoted) {
      into.insert(std::move(from.extract(from.begin()).value()));
    }
  };
  merge(outcome.endpoints, stats_.endpoints);
  merge(outcome.customers, stats_.customers);
}

Status Backfiller::RunFile(const std::string& path, std::span<const BackfillLane> lanes,
                           const BackfillProgressFn& progress) {
  if (lanes.empty()) return Status::InvalidArgument("backfill needs at least one lane");
  for (int attempt = 1;; ++attempt) {
    Status st = RunFileOnce(path, lanes, progress);
    if (st.code() != StatusCode::kAborted || attempt == kMaxFileAttempts) return st;
    spdlog::warn("{}: its checkpoint was advanced by another apimeter process while reading; "
                 "reading it again from the new checkpoint (attempt {} of {})",
                 path, attempt + 1, kMaxFileAttempts);
  }
}

Status Backfiller::RunFileOnce(const std::string& path, std::span<const BackfillLane> lanes,
                               const BackfillProgressFn& progress) {
  auto reader = LogFileReader::Open(path);
  if (!reader.ok()) return reader.status();
  auto fingerprint = (*reader)->Fingerprint();
  if (!fingerprint.ok()) return fingerprint.status();
  auto stored = sink_->ReadCheckpoint(options_.host, *fingerprint);
  if (!stored.ok()) return stored.status().WithContext(path);
  auto counted = ByteIntervals::Parse(*stored);
  if (!counted.ok()) return counted.status().WithContext(path);

  ByteIntervals done = *counted;  // grows as lines are counted in this run
  std::string committed = *stored;
  LineSplitter splitter(options_.max_line_bytes);
  uint64_t line_begin = 0;
  uint64_t since_flush = 0;

  // One lane: lines go straight to its pipeline. Several: they are collected
  // in a batch per chunk read and handed to the lanes' threads.
  std::optional<BackfillLanes> workers;
  if (lanes.size() > 1) workers.emplace(lanes, path);
  LinePipeline& pipeline = *lanes.front().pipeline;
  // The aggregators the lines go to now, and the one being flushed on the
  // flush thread (one lane with a spare only).
  std::vector<Aggregator*> active;
  for (const BackfillLane& lane : lanes) active.push_back(lane.aggregator);
  Aggregator* spare = lanes.size() == 1 ? lanes.front().spare : nullptr;
  if (spare != nullptr) pipeline.set_aggregator(active.front());
  std::future<FlushOutcome> in_flight;
  std::string in_flight_to;

  // Waits for the flush in flight, if any; on success its checkpoint is
  // the committed one.
  auto finish_in_flight = [&]() -> Status {
    if (!in_flight.valid()) return Status::Ok();
    FlushOutcome outcome = in_flight.get();
    Absorb(outcome);
    if (!outcome.status.ok()) return outcome.status;
    committed = in_flight_to;
    return Status::Ok();
  };
  // Commits every line read so far: on the flush thread (background, with a
  // spare to read on into), or here.
  auto flush = [&](bool background) -> Status {
    if (workers) workers->Drain();
    APIMETER_RETURN_IF_ERROR(finish_in_flight());
    const bool on_thread = background && spare != nullptr;
    std::vector<Aggregator*> full = active;
    if (on_thread) {
      std::swap(spare, active.front());
      pipeline.set_aggregator(active.front());
      full = {spare};
    }
    in_flight_to = done.ToString();
    in_flight = std::async(on_thread ? std::launch::async : std::launch::deferred,
                           [this, full, fp = *fingerprint, from = committed, to = in_flight_to] {
                             return TakeAndCommit(full, fp, from, to);
                           });
    return on_thread ? Status::Ok() : finish_in_flight();
  };
  // A failed file leaves nothing behind: the flush in flight ends, and lines
  // not committed are dropped (a retry reads them again).
  auto fail = [&](Status st) -> Status {
    if (workers) workers->Drain();
    if (in_flight.valid()) {
      FlushOutcome outcome = in_flight.get();
      Absorb(outcome);
      if (!outcome.status.ok()) {
        spdlog::warn("{}: the flush in flight failed as well: {}", path, outcome.status.message());
      }
    }
    for (Aggregator* a : active) a->TakeBatch();
    if (spare != nullptr) spare->TakeBatch();
    pipeline.set_aggregator(lanes.front().aggregator);
    return st;
  };

  LineBatch batch;
  auto on_line = [&](std::string_view line, uint64_t end, bool too_long) {
    const uint64_t begin = line_begin;
    line_begin = end;
    if (counted->Overlaps(begin, end)) {
      ++stats_.already_counted;
      return;
    }
    if (workers) {
      batch.Add(line, begin, too_long);
    } else if (too_long) {
      pipeline.ProcessTooLong(path, begin);
    } else {
      pipeline.Process(line, path, begin);
    }
    done.Add(begin, end);
    ++stats_.lines;
    ++since_flush;
  };
  auto submit = [&] {
    if (workers && !batch.empty()) workers->Submit(std::exchange(batch, LineBatch{}));
  };
  auto memory_bytes = [&] {
    return workers ? workers->MemoryBytes() : active.front()->MemoryBytes();
  };

  std::string buf(options_.read_chunk_bytes, '\0');
  for (;;) {
    auto got = (*reader)->Read(buf.data(), buf.size());
    if (!got.ok()) return fail(got.status());
    if (*got == 0) break;
    stats_.bytes += *got;
    splitter.Feed(std::string_view(buf.data(), *got), on_line);
    submit();
    if (since_flush >= options_.flush_every_lines || memory_bytes() > options_.memory_limit_bytes) {
      if (Status st = flush(/*background=*/true); !st.ok()) return fail(st);
      since_flush = 0;
    }
    if (progress) progress((*reader)->disk_offset(), stats_.lines);
  }
  // A last line without a newline in a plain file may still be being written:
  // it is left uncounted (and out of the checkpoint) for a later read. A
  // complete .gz cannot grow, so its last line counts.
  if ((*reader)->compressed() && !(*reader)->truncated()) splitter.Finish(on_line);
  submit();
  if ((*reader)->truncated()) {
    stats_.truncated_files.push_back(path);
    spdlog::warn("{}: compressed data ends early (file cut short or still being written); "
                 "counted the {} bytes that could be read", path, line_begin);
  }
  ++stats_.files;
  if (Status st = flush(/*background=*/false); !st.ok()) return fail(st);
  pipeline.set_aggregator(lanes.front().aggregator);
  return Status::Ok();
}

}  // namespace apimeter

#include "agent/live_agent.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <random>
#include <set>

#include "agent/agent_metrics.h"
#include "agent/batch_id.h"
#include "agent/file_system.h"
#include "agent/line_pipeline.h"
#include "agent/metrics_server.h"
#include "agent/runtime.h"
#include "agent/tailer.h"
#include "common/exit_code.h"
#include "common/process_metrics.h"

namespace apimeter {
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr size_t kPollByteBudget = 4 << 20;
constexpr milliseconds kPollIntervalWithInotify{1000};
constexpr milliseconds kPollIntervalWithoutInotify{250};
constexpr milliseconds kMaxFlushBackoff{30000};
constexpr milliseconds kShutdownFlushBudget{10000};
// Groups compacted per flush tick at most (storage v2): a few ms of Redis
// time, so a tick never stalls behind a backlog of closed buckets.
constexpr size_t kMaxCompactionsPerTick = 16;
constexpr std::chrono::seconds kSummaryInterval{60};
constexpr milliseconds kInotifyCoalesce{100};
constexpr uint64_t kLoggedRejectsPerSummary = 5;

}  // namespace

// Reads checkpoints for one host through the sink.
class LiveAgent::SinkCheckpointLookup final : public CheckpointLookup {
 public:
  SinkCheckpointLookup(LiveSink* sink, std::string host) : sink_(sink), host_(std::move(host)) {}
  Result<std::string> Read(std::string_view fingerprint) override {
    return sink_->ReadCheckpoint(host_, fingerprint);
  }

 private:
  LiveSink* sink_;
  std::string host_;
};

// Hands each complete line of one source to that source's pipeline.
class LiveAgent::PipelineConsumer final : public LineConsumer {
 public:
  PipelineConsumer(LinePipeline* pipeline, AgentMetrics* metrics)
      : pipeline_(pipeline), metrics_(metrics) {}
  void OnLine(std::string_view path, std::string_view line, uint64_t begin, uint64_t,
              bool too_long) override {
    ++metrics_->lines_read;
    if (too_long) {
      pipeline_->ProcessTooLong(path, begin);
    } else {
      pipeline_->Process(line, path, begin);
    }
  }

 private:
  LinePipeline* pipeline_;
  AgentMetrics* metrics_;
};

LiveAgent::LiveAgent(LiveAgentArgs args, LiveAgentDeps deps)
    : args_(std::move(args)),
      fs_(deps.fs),
      clock_(deps.clock),
      loop_(deps.loop),
      load_config_(std::move(deps.load_config)),
      open_sink_(std::move(deps.open_sink)),
      poll_timer_(loop_->NewTimer()),
      flush_timer_(loop_->NewTimer()),
      summary_timer_(loop_->NewTimer()),
      start_timer_(loop_->NewTimer()) {}

LiveAgent::~LiveAgent() = default;

Result<Config> LiveAgent::LoadConfig() {
  auto config = load_config_();
  if (!config.ok()) return config;
  if (args_.from_start) config->agent.from_start = true;
  if (!args_.metrics_listen.empty()) config->agent.metrics_listen = args_.metrics_listen;
  return config;
}

Status LiveAgent::Init() {
  auto config = LoadConfig();
  if (!config.ok()) return config.status();
  auto rt = Runtime::Create(*config, clock_);
  if (!rt.ok()) return rt.status();
  rt_ = std::move(rt).value();
  auto sink = open_sink_(*rt_);
  if (!sink.ok()) return sink.status();
  sink_ = std::move(sink).value();
  for (int k = 0; k < RejectedLines::kKinds; ++k) {  // every reason exported from the start
    metrics_.rejected_by_reason[std::string(ParseErrorName(static_cast<ParseErrorKind>(k)))] = 0;
  }
  if (rt_->config().prometheus.traffic) {
    traffic_ = std::make_unique<TrafficMetrics>(TrafficOptionsOf(rt_->config().prometheus));
  }
  return Status::Ok();
}

std::vector<std::string> LiveAgent::WatchDirs() const {
  std::set<std::string> dirs;
  for (auto& src : rt_->sources()) {
    for (auto& p : src.config.paths) dirs.insert(p.substr(0, p.rfind('/') == 0 ? 1 : p.rfind('/')));
  }
  return {dirs.begin(), dirs.end()};
}

void LiveAgent::Start(milliseconds poll_interval) {
  poll_interval_ = poll_interval;
  TryStart();
  ScheduleSummary();
}

void LiveAgent::TryStart() {
  // Redis down, or up without an answer the start depends on: retry later.
  auto retry_later = [this](const std::string& what, std::string_view why) {
    metrics_.redis_up = false;
    spdlog::warn("{} at {}: {} (retrying in {} ms)", what, sink_->Describe(), why,
                 start_backoff_.count());
    start_timer_->At(loop_->Now() + start_backoff_, [this] {
      if (!stopping_) TryStart();
    });
    start_backoff_ = std::min(start_backoff_ * 2, kMaxFlushBackoff);
  };
  Status pong = sink_->Ping();
  if (!pong.ok()) return retry_later("waiting for Redis before tailing", pong.message());
  // Without last_alive the agent cannot tell a first start (read existing
  // files from their end) from a restart (resume from the checkpoints):
  // guessing "first" would skip every line written while it was down.
  auto last = sink_->ReadLastAlive(rt_->host());
  if (!last.ok()) {
    return retry_later("reading last_alive of host " + rt_->host(), last.status().message());
  }
  metrics_.redis_up = true;
  const int64_t last_alive = *last;
  first_start_ = last_alive == 0;
  last_alive_s_ = last_alive;
  BuildTails(first_start_, {});
  started_ = true;
  spdlog::info("agent started on host {}: {} source(s), {}; flushing every {} ms", rt_->host(),
               tails_.size(),
               first_start_ ? (rt_->config().agent.from_start
                                   ? "first start, reading files from their start"
                                   : "first start, reading existing files from their end")
                            : "resuming from checkpoints",
               rt_->config().agent.flush_interval_ms);
  SchedulePoll(milliseconds(0));
  ScheduleFlush();
}

void LiveAgent::BuildTails(bool first_start, const std::set<size_t>& fresh_sources) {
  tails_.clear();
  aggregator_ = std::make_unique<Aggregator>(rt_->aggregator_options());
  lookup_ = std::make_unique<SinkCheckpointLookup>(sink_.get(), rt_->host());
  for (size_t i = 0; i < rt_->sources().size(); ++i) {
    auto& src = rt_->sources()[i];
    SourceTail t;
    t.source = &src;
    LinePipelineOptions options = rt_->pipeline_options(args_.show_raw_lines);
    options.traffic = traffic_.get();
    t.pipeline = std::make_unique<LinePipeline>(&src.parser, &src.customer_key, &rt_->normalizer(),
                                                &rt_->customers(), aggregator_.get(), &rejected_,
                                                clock_, options);
    t.consumer = std::make_unique<PipelineConsumer>(t.pipeline.get(), &metrics_);
    TailerOptions o;
    o.paths = src.config.paths;
    o.from_start = rt_->config().agent.from_start;
    o.first_start = first_start || fresh_sources.count(i) > 0;
    o.last_alive_s = last_alive_s_;
    o.max_line_bytes = static_cast<size_t>(rt_->config().limits.max_line_bytes);
    t.tailer = std::make_unique<Tailer>(o, fs_, clock_, lookup_.get());
    tails_.push_back(std::move(t));
  }
}

void LiveAgent::ResetAggregation() {
  aggregator_ = std::make_unique<Aggregator>(rt_->aggregator_options());
  for (auto& t : tails_) {
    t.pipeline = std::make_unique<LinePipeline>(
        &t.source->parser, &t.source->customer_key, &rt_->normalizer(), &rt_->customers(),
        aggregator_.get(), &rejected_, clock_, rt_->pipeline_options(args_.show_raw_lines));
    t.consumer = std::make_unique<PipelineConsumer>(t.pipeline.get(), &metrics_);
    t.parsed_before = t.rejected_before = 0;
    t.key_errors_before = {};
  }
}

void LiveAgent::SchedulePoll(milliseconds after) {
  poll_timer_->At(loop_->Now() + after, [this] {
    Poll();
    SchedulePoll(poll_interval_);
  });
}

void LiveAgent::Poll() {
  if (!started_ || stopping_) return;
  const size_t limit = static_cast<size_t>(rt_->config().limits.memory_mb) << 20;
  if (aggregator_->MemoryBytes() > limit) {
    if (!metrics_.paused) {
      spdlog::warn(
          "pausing reading: {} MB of counts are waiting for Redis (limits.memory_mb); "
          "the log files hold the rest and nothing is lost",
          aggregator_->MemoryBytes() >> 20);
    }
    metrics_.paused = true;
    return;
  }
  size_t total = 0;
  for (auto& t : tails_) {
    auto n = t.tailer->Poll(*t.consumer, kPollByteBudget - std::min(total, kPollByteBudget));
    if (!n.ok()) {
      ++metrics_.read_errors;
      spdlog::warn("reading {}: {}", t.source->config.paths.front(), n.status().message());
      continue;
    }
    total += *n;
  }
  UpdateReadMetrics();
  // More data than one budget: keep reading soon, but let timers and
  // signals run in between.
  if (total >= kPollByteBudget) loop_->Post([this] { Poll(); });
}

void LiveAgent::UpdateReadMetrics() {
  uint64_t rotations = 0, truncations = 0, files = 0, behind = 0, bytes = 0, errors = 0;
  int64_t newest = INT64_MIN;
  for (auto& t : tails_) {
    auto s = t.tailer->stats();
    rotations += s.rotations;
    truncations += s.truncations;
    files += s.files_open;
    behind += s.bytes_behind;
    bytes += s.bytes_read;
    errors += s.read_errors;
    metrics_.lines_parsed += t.pipeline->parsed() - t.parsed_before;
    metrics_.lines_rejected += t.pipeline->rejected() - t.rejected_before;
    t.parsed_before = t.pipeline->parsed();
    t.rejected_before = t.pipeline->rejected();
    for (int k = 0; k < kCustomerKeyErrorCount && t.source->customer_key.active(); ++k) {
      const auto e = static_cast<CustomerKeyError>(k);
      metrics_.customer_key_errors[std::string(CustomerKeyErrorName(e))] +=
          t.pipeline->customer_key_errors(e) - t.key_errors_before[k];
      t.key_errors_before[k] = t.pipeline->customer_key_errors(e);
    }
    if (t.pipeline->parsed() > 0) newest = std::max(newest, t.pipeline->max_time_us());
  }
  metrics_.rotations = rotations_base_ + rotations;
  metrics_.truncations = truncations_base_ + truncations;
  metrics_.bytes_read = bytes_base_ + bytes;
  metrics_.files_open = files;
  metrics_.bytes_behind = behind;
  // Seconds behind: how old the newest line read is, while unread bytes
  // remain; a quiet log that has been read to its end is not behind.
  metrics_.seconds_behind = behind > 0 && newest != INT64_MIN
                                ? static_cast<double>(clock_->NowMicros() - newest) / 1e6
                                : 0;
  for (int k = 0; k < RejectedLines::kKinds; ++k) {
    const auto kind = static_cast<ParseErrorKind>(k);
    metrics_.rejected_by_reason[std::string(ParseErrorName(kind))] = rejected_.count(kind);
  }
  LogRejectedSamples();
}

void LiveAgent::LogRejectedSamples() {
  for (const auto& s : rejected_.samples()) {
    if (rejects_logged_ >= kLoggedRejectsPerSummary) break;
    ++rejects_logged_;
    spdlog::warn("rejected line ({}) {}@{}: {}", s.reason, s.source, s.offset, s.text);
  }
  rejected_.ClearSamples();
}

void LiveAgent::NoteUnloggedRejects() {
  const uint64_t unlogged = rejected_.total() - rejects_at_summary_ - rejects_logged_;
  if (unlogged > 0) {
    spdlog::warn(
        "{} more rejected lines in the last interval were not logged (at most {} are); "
        "counts by reason: apimeter_api_rejected_lines_total",
        unlogged, kLoggedRejectsPerSummary);
  }
  rejects_at_summary_ = rejected_.total();
  rejects_logged_ = 0;
}

void LiveAgent::FoldTailerStats() {
  for (auto& t : tails_) {
    auto s = t.tailer->stats();
    rotations_base_ += s.rotations;
    truncations_base_ += s.truncations;
    bytes_base_ += s.bytes_read;
  }
}

void LiveAgent::ScheduleFlush() {
  const auto interval = milliseconds(rt_->config().agent.flush_interval_ms);
  const auto now = loop_->Now();
  next_tick_ = next_tick_ == EventLoop::TimePoint{} ? now + interval : next_tick_ + interval;
  if (next_tick_ < now) next_tick_ = now;
  flush_timer_->At(next_tick_, [this] {
    if (stopping_) return;
    FlushTick();
    ScheduleFlush();
  });
}

bool LiveAgent::TakeInFlight() {
  if (in_flight_) return true;
  InFlight f;
  bool any = false;
  for (auto& t : tails_) {
    f.per_tail.push_back(t.tailer->PendingCheckpoints());
    any = any || !f.per_tail.back().empty();
  }
  if (!any && aggregator_->Empty()) return false;
  f.caught_up = true;
  for (auto& t : tails_) f.caught_up = f.caught_up && t.tailer->stats().bytes_behind == 0;
  f.batch = aggregator_->TakeBatch();
  f.batch.id = NewBatchId();
  for (const auto& cps : f.per_tail) {
    f.batch.checkpoints.insert(f.batch.checkpoints.end(), cps.begin(), cps.end());
  }
  in_flight_ = std::move(f);
  return true;
}

Status LiveAgent::FlushOnce() {
  if (!TakeInFlight()) {
    Heartbeat();
    return Status::Ok();
  }
  const auto t0 = loop_->Now();
  Status st = sink_->Flush(in_flight_->batch);
  const double secs = std::chrono::duration<double>(loop_->Now() - t0).count();
  if (st.ok()) {
    for (size_t i = 0; i < tails_.size() && i < in_flight_->per_tail.size(); ++i) {
      tails_[i].tailer->MarkCommitted(in_flight_->per_tail[i]);
    }
    // last_alive: the last commit made while caught up; a rotated file
    // modified after it was not fully read (docs/tailer.md).
    const bool caught_up = in_flight_->caught_up;
    in_flight_.reset();
    metrics_.ObserveFlush(secs);
    metrics_.last_success_flush_s = clock_->NowSeconds();
    metrics_.redis_up = true;
    if (metrics_.paused) spdlog::info("Redis accepted the pending counts; reading resumes");
    metrics_.paused = false;
    flush_backoff_ = milliseconds(0);
    // The first commit also ends the first start (its cursors are stored).
    if (caught_up || first_start_) {
      // The counts are committed either way; a failed write is said, not
      // dropped (the next commit or heartbeat writes it again).
      Status w = sink_->WriteLastAlive(rt_->host(), clock_->NowSeconds(), !caught_up);
      if (!w.ok()) {
        spdlog::warn("writing last_alive of host {} failed: {}", rt_->host(), w.message());
      }
      first_start_ = false;
    }
    if (reload_requested_) Reload();
    return st;
  }
  ++metrics_.flush_failures;
  if (st.code() == StatusCode::kAborted) {
    // Another process (a backfill of a live file?) advanced a checkpoint we
    // hold: drop every uncommitted count and let the tailers re-deliver the
    // lines that no committed checkpoint covers.
    spdlog::error("flush refused: {}; re-reading from the stored checkpoints", st.message());
    const std::vector<std::vector<FileCheckpoint>> aborted = in_flight_->per_tail;
    in_flight_.reset();
    ResetAggregation();
    for (size_t i = 0; i < tails_.size() && i < aborted.size(); ++i) {
      Status rw = tails_[i].tailer->Rewind(aborted[i]);
      if (!rw.ok()) spdlog::error("re-reading after a refused flush: {}", rw.message());
    }
    return st;
  }
  metrics_.redis_up = st.code() != StatusCode::kUnavailable ? metrics_.redis_up : false;
  flush_backoff_ = std::min(std::max(flush_backoff_ * 2, milliseconds(1000)), kMaxFlushBackoff);
  next_flush_ = loop_->Now() + flush_backoff_;
  spdlog::warn("flush failed ({} lines waiting, {} KB in memory): {}; retrying in {} ms",
               in_flight_->batch.lines + aggregator_->lines(), aggregator_->MemoryBytes() >> 10,
               st.message(), flush_backoff_.count());
  return st;
}

void LiveAgent::Heartbeat() {
  const int64_t now = clock_->NowSeconds();
  if (now - last_heartbeat_s_ < 30) return;
  for (auto& t : tails_) {
    if (t.tailer->stats().bytes_behind != 0) return;
  }
  last_heartbeat_s_ = now;
  metrics_.redis_up = sink_->WriteLastAlive(rt_->host(), now, first_start_).ok();
  if (metrics_.redis_up) first_start_ = false;
}

void LiveAgent::FlushTick() {
  if (!started_) return;
  if (flush_backoff_.count() > 0 && loop_->Now() < next_flush_) return;
  (void)FlushOnce();
  if (metrics_.paused && !in_flight_) SchedulePoll(milliseconds(0));
  // Compaction, after the flush and outside its timing: bounded work per
  // tick, only while nothing waits to be committed (Redis is up).
  if (!in_flight_) {
    loop_->Post([this] {
      if (stopping_ || in_flight_ || !sink_) return;
      (void)sink_->Maintain(kMaxCompactionsPerTick);  // the store logs and counts a failure
    });
  }
}

void LiveAgent::Hangup() {
  spdlog::info("SIGHUP: reloading {}", args_.config);
  reload_requested_ = true;
  if (started_ && !in_flight_) {
    Status st = FlushOnce();  // commit what was read under the old config first
    if (st.ok() && reload_requested_) Reload();
  }
}

void LiveAgent::Reload() {
  reload_requested_ = false;
  auto config = LoadConfig();
  Result<std::unique_ptr<Runtime>> rt = config.ok()
                                            ? Runtime::Create(*config, clock_)
                                            : Result<std::unique_ptr<Runtime>>(config.status());
  Result<std::unique_ptr<LiveSink>> sink =
      rt.ok() ? open_sink_(**rt) : Result<std::unique_ptr<LiveSink>>(rt.status());
  if (!sink.ok()) {
    ++metrics_.reload_failures;
    spdlog::error("reload refused, still running on the previous config: {}",
                  sink.status().message());
    return;
  }
  if (in_flight_ || !aggregator_->Empty()) {
    reload_requested_ = true;  // retried after the next successful flush
    return;
  }
  // Sources whose paths are new start like a first start (existing files from their end).
  std::set<std::vector<std::string>> old_paths;
  for (auto& s : rt_->sources()) old_paths.insert(s.config.paths);
  std::set<size_t> fresh;
  for (size_t i = 0; i < (*rt)->sources().size(); ++i) {
    if (!old_paths.count((*rt)->sources()[i].config.paths)) fresh.insert(i);
  }
  FoldTailerStats();
  tails_.clear();
  sink_ = std::move(sink).value();  // before rt_: it may point into the old runtime
  rt_ = std::move(rt).value();
  BuildTails(false, fresh);
  ++metrics_.reloads;
  spdlog::info("reloaded: {} source(s), {} route(s); tailers resume from their checkpoints",
               rt_->sources().size(), rt_->config().routes.size());
}

Status LiveAgent::Shutdown(int sig) {
  if (stopping_) return Status::Ok();
  stopping_ = true;
  spdlog::info("{}: committing what was read, then exiting", sig == SIGINT ? "SIGINT" : "SIGTERM");
  poll_timer_->Cancel();
  flush_timer_->Cancel();
  start_timer_->Cancel();
  summary_timer_->Cancel();
  Status result;
  if (started_) {
    const auto deadline = loop_->Now() + kShutdownFlushBudget;
    for (;;) {
      Status st = FlushOnce();
      if (st.ok() && !in_flight_ && aggregator_->Empty()) break;
      if (loop_->Now() >= deadline) {
        spdlog::error(
            "could not commit the last counts before exiting ({}); they are not "
            "lost: their lines are re-read from the log on the next start",
            st.message());
        result = Status::Unavailable("the last counts were not committed: " + st.message());
        break;
      }
      // Pacing retries of the final flush, not synchronising anything.
      loop_->Block(milliseconds(500));
    }
  }
  spdlog::info("stopped: {}", RenderSummary());
  NoteUnloggedRejects();
  return result;
}

std::string LiveAgent::RenderMetrics() {
  if (sink_) sink_->FillMetrics(&metrics_);
  metrics_.aggregator_bytes = aggregator_ ? aggregator_->MemoryBytes() : 0;
  PrometheusText out;
  metrics_.Render(&out);
  if (traffic_) traffic_->Render(&out);
  WriteProcessMetrics(ReadProcessStats(), &out);
  WriteBuildInfo(args_.build_version, args_.build_revision, "agent", &out);
  return out.str();
}

std::string LiveAgent::RenderSummary() {
  metrics_.aggregator_bytes = aggregator_ ? aggregator_->MemoryBytes() : 0;
  metrics_.rss_bytes = ReadRssBytes();
  return metrics_.Summary();
}

void LiveAgent::ScheduleSummary() {
  summary_timer_->At(loop_->Now() + kSummaryInterval, [this] {
    spdlog::info("{}", RenderSummary());
    NoteUnloggedRejects();
    ScheduleSummary();
  });
}

// --- the edge: the real dependencies, signals, inotify and /metrics ---
namespace {

// An early wake-up for polls where the kernel offers inotify: events on the
// log directories call `wake` (at most once per kInotifyCoalesce).
class InotifyWaker {
 public:
  InotifyWaker(asio::io_context& io, std::function<void()> wake)
      : io_(io), wake_(std::move(wake)), wake_timer_(io) {}

  // False (and a log line saying so) when inotify cannot watch any of `dirs`.
  bool Watch(const std::vector<std::string>& dirs) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      spdlog::info("inotify unavailable; polling every {} ms", kPollIntervalWithoutInotify.count());
      return false;
    }
    int watched = 0;
    for (auto& d : dirs) {
      if (::inotify_add_watch(fd, d.c_str(),
                              IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                  IN_CLOSE_WRITE | IN_ATTRIB) >= 0) {
        ++watched;
      }
    }
    if (watched == 0) {
      ::close(fd);
      spdlog::info("inotify could not watch the log directories; polling every {} ms",
                   kPollIntervalWithoutInotify.count());
      return false;
    }
    inotify_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    WaitInotify();
    return true;
  }

  void Cancel() {
    wake_timer_.cancel();
    if (inotify_) inotify_->cancel();
  }

 private:
  void WaitInotify() {
    inotify_->async_read_some(asio::buffer(inotify_buf_), [this](auto ec, size_t) {
      if (ec) return;
      // Writes arrive as a stream of events: one poll per 100 ms at most.
      if (!wake_pending_) {
        wake_pending_ = true;
        wake_timer_.expires_after(kInotifyCoalesce);
        wake_timer_.async_wait([this](auto ec2) {
          wake_pending_ = false;
          if (!ec2) wake_();
        });
      }
      WaitInotify();
    });
  }

  asio::io_context& io_;
  std::function<void()> wake_;
  asio::steady_timer wake_timer_;
  bool wake_pending_ = false;
  std::unique_ptr<asio::posix::stream_descriptor> inotify_;
  std::array<char, 8192> inotify_buf_{};
};

}  // namespace

int RunAgent(const LiveAgentArgs& args) {
  asio::io_context io;
  AsioEventLoop loop(io);
  SystemClock clock;
  RealFileSystem fs;
  LiveAgentDeps deps;
  deps.fs = &fs;
  deps.clock = &clock;
  deps.loop = &loop;
  deps.load_config = [path = args.config] { return LoadConfigFile(path); };
  deps.open_sink = [](Runtime& rt) -> Result<std::unique_ptr<LiveSink>> {
    APIMETER_RETURN_IF_ERROR(rt.CreateRedis());
    return std::unique_ptr<LiveSink>(std::make_unique<RedisLiveSink>(
        &rt.sink(), &rt.redis(), rt.config().redis.prefix, rt.config().redis.url));
  };
  LiveAgent agent(args, std::move(deps));
  if (Status st = agent.Init(); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitConfig;
  }
  if (args.show_raw_lines) WarnShowRawLines();
  std::unique_ptr<MetricsServer> metrics_server;
  const std::string& listen = agent.config().agent.metrics_listen;
  if (!listen.empty()) {
    auto server = MetricsServer::Start(io, listen, [&agent] { return agent.RenderMetrics(); });
    if (!server.ok()) {
      spdlog::error("{}", server.status().message());
      return kExitConfig;
    }
    metrics_server = std::move(server).value();
    spdlog::info("metrics on http://{}/metrics", listen);
  }
  int exit_code = kExitOk;
  asio::signal_set hup(io, SIGHUP);
  InotifyWaker waker(io, [&agent] { agent.Poll(); });
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](auto ec, int sig) {
    if (ec) return;
    waker.Cancel();
    if (!agent.Shutdown(sig).ok()) exit_code = kExitRuntime;
    if (metrics_server) metrics_server->Stop();
    hup.cancel();
    io.stop();
  });
  std::function<void()> wait_for_hup = [&] {
    hup.async_wait([&](auto ec, int) {
      if (ec) return;
      agent.Hangup();
      wait_for_hup();
    });
  };
  wait_for_hup();
  const bool inotify = waker.Watch(agent.WatchDirs());
  agent.Start(inotify ? kPollIntervalWithInotify : kPollIntervalWithoutInotify);
  io.run();
  return exit_code;
}

}  // namespace apimeter

// LiveAgent driven by hand: an in-memory file system, a store that fails on
// demand, and a loop whose time moves only when the test runs it. Each test
// checks the exact count of requests stored, so a line lost or counted twice
// fails it.
#include "agent/live_agent.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "fake_event_loop.h"
#include "fake_file_system.h"

namespace apimeter {
namespace {

using std::chrono::milliseconds;
using testing::FakeEventLoop;
using testing::FakeFileSystem;

constexpr const char* kLog = "/log/api.access.log";
constexpr int64_t kT0 = 1795687200;  // 2026-11-26T10:00:00Z
constexpr const char* kHost = "test-host";

// What a store holds, shared by the sinks of successive runtimes and agents
// (a reload or a restart sees the same data). Flush follows RedisSink's
// contract: checkpoints are compare-and-set (kAborted), a batch id already
// applied is not applied again, and nothing is written on failure.
struct FakeStore {
  bool down = false;     // every call fails with kUnavailable
  int fail_flushes = 0;  // the next N flushes fail with kUnavailable
  int lose_replies = 0;  // the next N flushes apply, then report kUnavailable
  int fail_last_alive_reads = 0;  // the next N reads of last_alive fail (Redis up otherwise)
  const EventLoop* loop = nullptr;

  uint64_t requests = 0;                           // sum of the minute-tier "all" series
  std::map<std::string, uint64_t> endpoints;       // minute-tier endpoint name -> requests
  std::map<std::string, std::string> checkpoints;  // fingerprint -> value
  std::map<std::string, int64_t> last_alive;       // host -> seconds
  std::set<std::string> applied_ids;
  struct Attempt {
    EventLoop::TimePoint at;
    std::string id;
    bool ok = false;
  };
  std::vector<Attempt> attempts;
  uint64_t commits = 0;
  // Maintain calls: when (flush attempts made before it) and the bound asked.
  std::vector<std::pair<size_t, size_t>> maintains;

  Status Flush(const FlushBatch& batch) {
    Attempt a{loop ? loop->Now() : EventLoop::TimePoint{}, batch.id, false};
    if (down || fail_flushes > 0) {
      if (fail_flushes > 0) --fail_flushes;
      attempts.push_back(a);
      return Status::Unavailable("store down (injected)");
    }
    a.ok = true;
    attempts.push_back(a);
    if (!batch.id.empty() && !applied_ids.insert(batch.id).second) return Status::Ok();
    for (const auto& cp : batch.checkpoints) {
      auto it = checkpoints.find(cp.fingerprint);
      const std::string stored = it == checkpoints.end() ? "" : it->second;
      if (stored != cp.expected) return Status::Aborted("checkpoint moved: " + cp.fingerprint);
    }
    for (const auto& cp : batch.checkpoints) checkpoints[cp.fingerprint] = cp.updated;
    for (const auto& d : batch.series) {
      if (d.tier != Tier::kMinute) continue;
      if (d.kind == SeriesKind::kAll) requests += d.rollup.requests;
      if (d.kind == SeriesKind::kEndpoint) endpoints[d.name] += d.rollup.requests;
    }
    ++commits;
    if (lose_replies > 0) {
      --lose_replies;
      attempts.back().ok = false;
      return Status::Unavailable("reply lost (injected)");
    }
    return Status::Ok();
  }
};

class FakeSink final : public LiveSink {
 public:
  explicit FakeSink(FakeStore* store) : store_(store) {}
  std::string Describe() const override { return "fake://store"; }
  Status Ping() override { return Up(); }
  Result<std::string> ReadCheckpoint(std::string_view, std::string_view fingerprint) override {
    APIMETER_RETURN_IF_ERROR(Up());
    auto it = store_->checkpoints.find(std::string(fingerprint));
    return it == store_->checkpoints.end() ? std::string() : it->second;
  }
  Status Flush(const FlushBatch& batch) override { return store_->Flush(batch); }
  Status Maintain(size_t max_groups) override {
    store_->maintains.emplace_back(store_->attempts.size(), max_groups);
    return Up();
  }
  Result<int64_t> ReadLastAlive(std::string_view host) override {
    APIMETER_RETURN_IF_ERROR(Up());
    if (store_->fail_last_alive_reads > 0) {
      --store_->fail_last_alive_reads;
      return Status::Unavailable("HGET failed (injected)");
    }
    auto it = store_->last_alive.find(std::string(host));
    return it == store_->last_alive.end() ? int64_t{0} : it->second;
  }
  Status WriteLastAlive(std::string_view host, int64_t seconds, bool only_if_unset) override {
    APIMETER_RETURN_IF_ERROR(Up());
    if (!only_if_unset || !store_->last_alive.count(std::string(host))) {
      store_->last_alive[std::string(host)] = seconds;
    }
    return Status::Ok();
  }

 private:
  Status Up() const {
    return store_->down ? Status::Unavailable("store down (injected)") : Status::Ok();
  }
  FakeStore* store_;
};

std::string Config(const std::string& extra = "") {
  return std::string("sources:\n  - paths: [\"") + kLog + "\"]\n    host: " + kHost + "\n" + extra;
}

// A combined-format line dated `second` seconds after kT0.
std::string Line(int64_t second, const std::string& path = "/v1/items") {
  const time_t t = static_cast<time_t>(kT0 + second);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char date[64];
  std::strftime(date, sizeof(date), "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return std::string("10.0.0.1 - - [") + date + "] \"GET " + path +
         " HTTP/1.1\" 200 100 \"-\" \"curl\"\n";
}
std::string Lines(int n, int64_t second = 5, const std::string& path = "/v1/items") {
  std::string s;
  for (int i = 0; i < n; ++i) s += Line(second, path);
  return s;
}
// One line in each of `n` minutes before kT0: every one adds series to the
// aggregator (a cheap way to fill limits.memory_mb).
std::string SpreadLines(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += Line(-60 * int64_t{i + 1});
  return s;
}

class LiveAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.loop = &loop_;
    fs_.SetNow(kT0);
    fs_.Write(kLog, "");
  }

  // A new agent on the same files and store (a restart when one ran before).
  void StartAgent(LiveAgentArgs args = {}) {
    LiveAgentDeps deps;
    deps.fs = &fs_;
    deps.clock = &clock_;
    deps.loop = &loop_;
    deps.load_config = [this] { return LoadConfigString(yaml_, "apimeter.yaml"); };
    deps.open_sink = [this](Runtime&) -> Result<std::unique_ptr<LiveSink>> {
      return std::unique_ptr<LiveSink>(std::make_unique<FakeSink>(&store_));
    };
    agent_ = std::make_unique<LiveAgent>(std::move(args), std::move(deps));
    Status st = agent_->Init();
    ASSERT_TRUE(st.ok()) << st.ToString();
    agent_->Start(milliseconds(250));
    Run(milliseconds(0));  // the first poll: a first start reads existing files from their end
  }
  void StopAgent() {
    Status st = agent_->Shutdown(SIGTERM);
    EXPECT_TRUE(st.ok()) << st.ToString();
    agent_.reset();
  }

  void Run(milliseconds d) {
    loop_.RunFor(d);
    fs_.SetNow(clock_.NowSeconds());
  }
  void Append(const std::string& text) {
    fs_.SetNow(clock_.NowSeconds());
    fs_.Append(kLog, text);
  }
  const AgentMetrics& metrics() { return agent_->metrics(); }

  ManualClock clock_{kT0 * 1'000'000};
  FakeEventLoop loop_{&clock_};
  FakeFileSystem fs_;
  FakeStore store_;
  std::string yaml_ = Config();
  std::unique_ptr<LiveAgent> agent_;
};

// --- flush backoff and retry ---------------------------------------------

TEST_F(LiveAgentTest, StoreMaintenanceRunsAfterFlushTicksBoundedAndNotWhileABatchWaits) {
  StartAgent();
  Append(Lines(10));
  Run(milliseconds(2100));  // the first tick commits
  ASSERT_EQ(store_.commits, 1u);
  ASSERT_FALSE(store_.maintains.empty());
  // After the flush attempt of its tick, with a bound (kMaxCompactionsPerTick).
  EXPECT_EQ(store_.maintains.front().first, store_.attempts.size());
  EXPECT_EQ(store_.maintains.front().second, 16u);
  // Idle ticks keep it going (closed buckets come due without new lines).
  const size_t before = store_.maintains.size();
  Run(milliseconds(4000));
  EXPECT_EQ(store_.maintains.size(), before + 2);
  // While a batch waits for a failing store, no maintenance competes with it.
  store_.fail_flushes = 3;
  Append(Lines(5, 6));
  const size_t at_failure = store_.maintains.size();
  Run(milliseconds(2000));
  EXPECT_EQ(store_.maintains.size(), at_failure);
  Run(milliseconds(20000));  // retried until it commits, then maintenance resumes
  EXPECT_EQ(store_.requests, 15u);
  EXPECT_GT(store_.maintains.size(), at_failure);
}

TEST_F(LiveAgentTest, FailedFlushesAreRetriedWithDoublingBackoffAndCommitOnce) {
  StartAgent();
  Append(Lines(100));
  Run(milliseconds(100));  // read, not yet flushed (flush_interval 2 s)
  store_.attempts.clear();
  store_.fail_flushes = 4;
  Run(milliseconds(1000));
  const auto t_first = loop_.Now() + milliseconds(900);  // the first tick at 2 s
  Run(milliseconds(3000));
  Append(Lines(50, 6));  // read while the first batch waits
  Run(milliseconds(30000));

  // Attempts on the 2 s ticks once each backoff (1, 2, 4, 8 s) has passed:
  // at 0, 2 (>= 1), 4 (>= 4), 8 (>= 8), then 16 (>= 16) succeeds.
  std::vector<int64_t> at_ms;
  for (const auto& a : store_.attempts) {
    at_ms.push_back(std::chrono::duration_cast<milliseconds>(a.at - t_first).count());
  }
  ASSERT_GE(at_ms.size(), 5u);
  EXPECT_EQ(std::vector<int64_t>(at_ms.begin(), at_ms.begin() + 5),
            (std::vector<int64_t>{0, 2000, 4000, 8000, 16000}));
  // One batch retried as is (same idempotency id), the 50 later lines in the next.
  for (int i = 1; i < 5; ++i) EXPECT_EQ(store_.attempts[i].id, store_.attempts[0].id);
  EXPECT_TRUE(store_.attempts[4].ok);
  EXPECT_EQ(store_.requests, 150u);
  EXPECT_EQ(metrics().flush_failures, 4u);
  EXPECT_TRUE(metrics().redis_up);
  // After a success the backoff is reset: the next batch goes on the next tick.
  Append(Lines(7, 7));
  Run(milliseconds(2000));
  EXPECT_EQ(store_.requests, 157u);
}

TEST_F(LiveAgentTest, BackoffIsCappedAt30Seconds) {
  StartAgent();
  Append(Lines(10));
  Run(milliseconds(100));
  store_.attempts.clear();
  store_.down = true;
  Run(milliseconds(200'000));
  ASSERT_GE(store_.attempts.size(), 8u);
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < store_.attempts.size(); ++i) {
    gaps.push_back(
        std::chrono::duration_cast<milliseconds>(store_.attempts[i].at - store_.attempts[i - 1].at)
            .count());
  }
  // Backoff 1, 2, 4, 8, 16, 30, 30 s, each rounded up to the 2 s flush tick.
  EXPECT_EQ(std::vector<int64_t>(gaps.begin(), gaps.begin() + 7),
            (std::vector<int64_t>{2000, 2000, 4000, 8000, 16000, 30000, 30000}));
  EXPECT_FALSE(metrics().redis_up);
  store_.down = false;
  Run(milliseconds(31'000));
  EXPECT_EQ(store_.requests, 10u);
}

// A flush that committed but whose reply was lost is sent again with the
// same id, so the store does not count it twice.
TEST_F(LiveAgentTest, RetryAfterALostReplyIsNotCountedTwice) {
  StartAgent();
  Append(Lines(20));
  Run(milliseconds(100));
  store_.attempts.clear();
  store_.lose_replies = 1;
  Run(milliseconds(5000));
  ASSERT_EQ(store_.attempts.size(), 2u);
  EXPECT_EQ(store_.attempts[1].id, store_.attempts[0].id);
  EXPECT_EQ(store_.requests, 20u);
  EXPECT_EQ(metrics().flush_failures, 1u);
}

// --- the memory bound: pause and resume --------------------------------------

TEST_F(LiveAgentTest, ReadingPausesAtTheMemoryBoundAndResumesWhenTheBatchCommits) {
  yaml_ = Config("limits: { memory_mb: 1 }\n");
  StartAgent();
  store_.down = true;
  Append(Lines(10));
  Run(milliseconds(2100));  // the first flush takes these 10 lines and fails
  ASSERT_EQ(store_.attempts.size(), 1u);
  Append(SpreadLines(2000));  // ~1.4 MB of aggregates (about 700 bytes a minute)
  Run(milliseconds(600));
  EXPECT_TRUE(metrics().paused);
  const uint64_t read_when_paused = metrics().lines_read;
  EXPECT_EQ(read_when_paused, 2010u);

  Append(Lines(30, 9));
  Run(milliseconds(20000));
  EXPECT_TRUE(metrics().paused);
  EXPECT_EQ(metrics().lines_read, read_when_paused);  // the log file is the buffer
  EXPECT_GT(store_.attempts.size(), 3u);              // flushes keep being retried
  EXPECT_EQ(store_.requests, 0u);

  store_.down = false;
  Run(milliseconds(40000));
  EXPECT_FALSE(metrics().paused);
  EXPECT_EQ(metrics().lines_read, 2040u);
  EXPECT_EQ(store_.requests, 2040u);
}

// --- SIGHUP -------------------------------------------------------------------

const std::string kReportsRoute =
    "routes:\n  - { match: '^/v1/reports/.*$', name: '/reports-any' }\n";

TEST_F(LiveAgentTest, HangupWithAGoodConfigCommitsThenAppliesIt) {
  StartAgent();
  Append(Lines(10, 5, "/v1/reports/a"));
  Run(milliseconds(300));
  yaml_ = Config(kReportsRoute);
  agent_->Hangup();
  EXPECT_EQ(store_.requests, 10u);  // committed under the old config first
  EXPECT_EQ(metrics().reloads, 1u);
  EXPECT_EQ(metrics().reload_failures, 0u);

  Append(Lines(5, 6, "/v1/reports/b"));
  Run(milliseconds(2500));
  EXPECT_EQ(store_.requests, 15u);  // the tailers resumed from their checkpoints
  EXPECT_EQ(store_.endpoints["GET /reports-any"], 5u);
}

// The traffic counters belong to the process, not to a config: a reload
// keeps them (and their labels), so they never go backwards.
TEST_F(LiveAgentTest, TrafficMetricsSurviveAReloadAndCountEveryLine) {
  StartAgent();
  Append(Lines(10, 5, "/v1/reports/a"));
  Run(milliseconds(300));
  yaml_ = Config(kReportsRoute);
  agent_->Hangup();
  Append(Lines(5, 6, "/v1/reports/b") + "not a log line\n");
  Run(milliseconds(2500));
  const std::string text = agent_->RenderMetrics();
  EXPECT_NE(text.find("apimeter_api_requests_total{endpoint=\"GET /v1/reports/a\","
                      "status_class=\"2xx\"} 10\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apimeter_api_requests_total{endpoint=\"GET /reports-any\","
                      "status_class=\"2xx\"} 5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apimeter_api_rejected_lines_total{reason=\"no_match\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("apimeter_build_info{"), std::string::npos);
}

TEST_F(LiveAgentTest, TrafficMetricsCanBeTurnedOff) {
  yaml_ = Config("prometheus: { traffic: false }\n");
  StartAgent();
  Append(Lines(3));
  Run(milliseconds(300));
  const std::string text = agent_->RenderMetrics();
  EXPECT_EQ(text.find("apimeter_api_requests_total"), std::string::npos) << text;
  EXPECT_NE(text.find("apimeter_agent_lines_read_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("apimeter_api_rejected_lines_total{reason=\"no_match\"} 0\n"),
            std::string::npos)
      << text;
}

TEST_F(LiveAgentTest, HangupWithABadConfigKeepsTheOldOneAndCountsAFailure) {
  yaml_ = Config(kReportsRoute);
  StartAgent();
  Append(Lines(10, 5, "/v1/reports/a"));
  Run(milliseconds(300));
  yaml_ = Config("limits: { memory_mb: 0 }\n");  // out of range
  agent_->Hangup();
  EXPECT_EQ(metrics().reload_failures, 1u);
  EXPECT_EQ(metrics().reloads, 0u);

  Append(Lines(5, 6, "/v1/reports/b"));
  Run(milliseconds(2500));
  EXPECT_EQ(store_.requests, 15u);
  EXPECT_EQ(store_.endpoints["GET /reports-any"], 15u);  // still the old config's route
}

TEST_F(LiveAgentTest, HangupDuringAnOutageReloadsAfterTheBatchCommits) {
  StartAgent();
  store_.down = true;
  Append(Lines(10, 5, "/v1/reports/a"));
  Run(milliseconds(2100));  // in flight, failing
  yaml_ = Config(kReportsRoute);
  agent_->Hangup();
  EXPECT_EQ(metrics().reloads, 0u);  // not while a batch is in flight
  Run(milliseconds(5000));
  EXPECT_EQ(metrics().reloads, 0u);

  store_.down = false;
  Run(milliseconds(20000));
  EXPECT_EQ(metrics().reloads, 1u);
  EXPECT_EQ(store_.requests, 10u);
  Append(Lines(5, 6, "/v1/reports/b"));
  Run(milliseconds(2500));
  EXPECT_EQ(store_.requests, 15u);
  EXPECT_EQ(store_.endpoints["GET /reports-any"], 5u);
}

// --- SIGTERM ------------------------------------------------------------------

TEST_F(LiveAgentTest, ShutdownCommitsTheLastCountsAndTheirCheckpoint) {
  StartAgent();
  Append(Lines(25));
  Run(milliseconds(300));  // read, before any flush tick
  ASSERT_EQ(store_.commits, 0u);
  Status st = agent_->Shutdown(SIGTERM);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store_.requests, 25u);
  EXPECT_FALSE(store_.checkpoints.empty());
  EXPECT_EQ(loop_.armed_timers(), 0u);  // nothing runs after it
  const size_t attempts = store_.attempts.size();
  Run(milliseconds(10000));
  EXPECT_EQ(store_.attempts.size(), attempts);
  agent_.reset();

  // A restart resumes at the committed checkpoint: the 25 lines are not
  // counted again and the 5 written while stopped are not skipped.
  Append(Lines(5, 6));
  StartAgent();
  Run(milliseconds(2500));
  EXPECT_EQ(store_.requests, 30u);
}

TEST_F(LiveAgentTest, ShutdownThatCannotCommitFailsAndTheLinesAreReadAgain) {
  StartAgent();
  Run(milliseconds(2100));  // the first flush stores the start position
  store_.down = true;
  Append(Lines(20));
  Run(milliseconds(300));
  const auto before = loop_.Now();
  Status st = agent_->Shutdown(SIGTERM);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(store_.requests, 0u);
  // Retried for 10 s, every 500 ms (the loop blocked, nothing else ran).
  EXPECT_EQ(loop_.Now() - before, milliseconds(10000));
  EXPECT_EQ(loop_.blocks(), 20);
  agent_.reset();

  store_.down = false;
  StartAgent();
  Run(milliseconds(2500));
  EXPECT_EQ(store_.requests, 20u);
}

// A start that cannot read last_alive is not a first start: it waits and
// retries, then resumes from the checkpoints (a first start would read
// existing files from their end and skip what was written meanwhile).
TEST_F(LiveAgentTest, AStartThatCannotReadLastAliveRetriesInsteadOfSkippingLines) {
  StartAgent();
  Append(Lines(10));
  Run(milliseconds(2100));
  ASSERT_EQ(store_.requests, 10u);
  StopAgent();

  Append(Lines(20, 6));  // written while the agent is stopped
  store_.fail_last_alive_reads = 2;
  StartAgent();
  Run(milliseconds(10000));
  EXPECT_EQ(store_.fail_last_alive_reads, 0);
  EXPECT_EQ(store_.requests, 30u);
}

// --- rotation while the store is down -----------------------------------------

TEST_F(LiveAgentTest, RotationDuringAnOutageCountsEveryLineOnce) {
  StartAgent();
  Append(Lines(10));
  Run(milliseconds(2100));
  ASSERT_EQ(store_.requests, 10u);

  store_.down = true;
  Append(Lines(20, 6));
  Run(milliseconds(1000));
  const std::string rotated = std::string(kLog) + ".1";
  fs_.Rename(kLog, rotated);         // logrotate
  fs_.Append(rotated, Lines(5, 7));  // nginx writes on until it reopens
  fs_.Write(kLog, Lines(30, 8));     // then into the new file
  Run(milliseconds(10000));          // the old file goes idle past its grace
  Append(Lines(4, 9));
  Run(milliseconds(5000));
  EXPECT_EQ(store_.requests, 10u);
  EXPECT_EQ(metrics().rotations, 1u);

  store_.down = false;
  Run(milliseconds(40000));
  EXPECT_EQ(store_.requests, 10u + 20 + 5 + 30 + 4);
  agent_.reset();

  // Nothing is read again after a restart (both files are checkpointed).
  StartAgent();
  Run(milliseconds(5000));
  EXPECT_EQ(store_.requests, 69u);
}

}  // namespace
}  // namespace apimeter

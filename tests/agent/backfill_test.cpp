// Backfiller against a real redis-server: exactly-once across re-runs, files
// that grow, gzip rotation of a counted file, a checkpoint left by an agent
// that started in the middle of a file, lanes and flushes on their own thread
// counting as one pipeline does, and a checkpoint advanced by another process
// while a flush is in flight.
#include "agent/backfill.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "agent/byte_intervals.h"
#include "agent/log_file_reader.h"
#include "agent/runtime.h"
#include "tests/agent/backfill_test_util.h"
#include "tests/support/test_redis.h"
#include "server/answer_json.h"

namespace apimeter {
namespace {

using testing::NoSleep;

std::string Line(int minute, const std::string& path, int status, const std::string& key) {
  return testing::BackfillLine(minute, path, status, key);
}

// The byte offset where line n (from 0) of `content` starts.
size_t LineStart(const std::string& content, int n) {
  size_t at = 0;
  for (int i = 0; i < n; ++i) at = content.find('\n', at) + 1;
  return at;
}

class BackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("apimeter-backfill-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    rt_ = MakeRuntime(&prefix_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A second runtime, on a prefix of its own, to compare against rt_.
  std::unique_ptr<Runtime> OtherRuntime() {
    std::string prefix;
    return MakeRuntime(&prefix);
  }

  // A runtime on a fresh prefix of the test Redis, connected.
  std::unique_ptr<Runtime> MakeRuntime(std::string* prefix) {
    auto& redis = testing::TestRedis::Get();
    *prefix = redis.UniquePrefix("bf");
    const std::string& prefix_ = *prefix;
    const std::string yaml = std::string("sources:\n  - paths: [\"") + (dir_ / "api.log").string() +
        "\"]\n    log_format: '$remote_addr - $remote_user [$time_local] \"$request\" $status "
        "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time "
        "$upstream_response_time \"$http_x_api_key\" $request_length'\n"
        "    customer: $http_x_api_key\n    latency: $request_time\n    host: bf-host\n"
        "customer_id_secret: \"backfill-test-secret-0001\"\n"
        "retention: { minute: 3650d, hour: 3650d, day: 3650d }\n"
        "redis: { url: \"" + redis.url() + "\", prefix: \"" + prefix_ + "\" }\n";
    auto config = LoadConfigString(yaml, "test.yaml");
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    if (!config.ok()) return nullptr;
    auto rt = Runtime::Create(*config, &clock_);
    EXPECT_TRUE(rt.ok()) << rt.status().ToString();
    if (!rt.ok()) return nullptr;
    Status st = (*rt)->ConnectRedis();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::move(rt).value();
  }

  // Backfills `path` once with fresh aggregators; returns lines counted now.
  // With lanes > 1 the lines are processed on that many threads
  // (agent/backfill_lanes.h), read in chunks of `chunk_bytes`.
  // With `spare` (one lane), flushes run on a thread of their own into a
  // second aggregator; `sink` replaces the runtime's sink when given.
  uint64_t Backfill(const std::string& path, Runtime* rt = nullptr, int lanes = 1,
                    size_t chunk_bytes = 1 << 20, uint64_t flush_every_lines = 7,
                    bool spare = false, Sink* sink = nullptr) {
    if (rt == nullptr) rt = rt_.get();
    SourceRuntime& src = rt->sources().front();
    std::vector<std::unique_ptr<CustomerResolver>> resolvers;
    std::vector<std::unique_ptr<Aggregator>> aggregators;
    std::vector<RejectedLines> rejected(static_cast<size_t>(lanes));
    std::vector<std::unique_ptr<LinePipeline>> pipelines;
    std::vector<BackfillLane> lane_list;
    for (int i = 0; i < lanes; ++i) {
      resolvers.push_back(rt->NewCustomerResolver());
      aggregators.push_back(std::make_unique<Aggregator>(rt->aggregator_options()));
      pipelines.push_back(std::make_unique<LinePipeline>(
          &src.parser, &src.customer_key, &rt->normalizer(), resolvers.back().get(),
          aggregators.back().get(), &rejected[static_cast<size_t>(i)], &clock_,
          rt->pipeline_options(false)));
      lane_list.push_back(BackfillLane{pipelines.back().get(), aggregators.back().get()});
    }
    if (spare) {
      aggregators.push_back(std::make_unique<Aggregator>(rt->aggregator_options()));
      lane_list.front().spare = aggregators.back().get();
    }
    BackfillOptions options;
    options.host = "bf-host";
    options.flush_every_lines = flush_every_lines;  // default: many small transactions
    options.read_chunk_bytes = chunk_bytes;
    Backfiller backfiller(options, sink != nullptr ? sink : &rt->sink(), &sleeper_);
    Status st = backfiller.RunFile(path, lane_list);
    EXPECT_TRUE(st.ok()) << st.ToString();
    for (const auto& a : aggregators) EXPECT_TRUE(a->Empty()) << "an aggregator kept lines";
    flushes_ = backfiller.stats().flushes;
    rejected_.AddFileParts(rejected);
    return backfiller.stats().lines;
  }

  // 3,000 lines in time order over an hour, with runs of rejected lines,
  // 40 endpoints, 25 customers, 10% errors, and latencies and seconds of
  // their own (the slowest requests have no ties).
  static std::string MixedContent() {
    std::string content;
    uint32_t rng = 12345;
    auto next = [&rng] { return rng = rng * 1103515245u + 12345u, (rng >> 8); };
    for (int i = 0; i < 3000; ++i) {
      const int minute = (i * 60) / 3000;  // in time order, 50 lines a minute
      if (next() % 9 == 0) {
        for (uint32_t r = next() % 4; r < 4; ++r) content += "garbage line " + std::to_string(i) + "\n";
      }
      const std::string path = "/v1/items/" + std::to_string(next() % 40);
      const int status = next() % 10 == 0 ? 503 : 200;
      std::string line = Line(minute, path, status, "key-" + std::to_string(next() % 25));
      // A latency of its own (1..3000 ms), so the slowest requests have no ties.
      char latency[16];
      std::snprintf(latency, sizeof latency, "%d.%03d", (i * 7919 % 3000 + 1) / 1000,
                    (i * 7919 % 3000 + 1) % 1000);
      line.replace(line.find("0.010 "), 5, latency);
      // And a second of its own: the slowest requests are stored by time,
      // endpoint, customer and status, so equal ones would share an entry.
      line.replace(line.find(":05 +0000"), 3, ":" + std::to_string(10 + i % 50));
      content += line;
    }
    content += "a last garbage line\n";
    return content;
  }

  // Every answer the API gives (per minute included) is the same from both.
  static void ExpectSameAnswers(Runtime& one, Runtime& other) {
    QueryParams params;
    params.from_s = 1795687200;  // 2026-11-26T10:00Z
    params.to_s = params.from_s + 3600;
    params.step_s = 60;
    params.limit = 1000;
    auto same = [](const Result<nlohmann::json>& a, const Result<nlohmann::json>& b) {
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      EXPECT_EQ(a->dump(), b->dump());
    };
    same(ToJson(one.query().Overview(params)), ToJson(other.query().Overview(params)));
    same(ToJson(one.query().Timeseries(params)), ToJson(other.query().Timeseries(params)));
    same(ToJson(one.query().Endpoints(params)), ToJson(other.query().Endpoints(params)));
    same(ToJson(one.query().Customers(params)), ToJson(other.query().Customers(params)));
    same(ToJson(one.query().Slow(params)), ToJson(other.query().Slow(params)));
    auto overview = ToJson(one.query().Overview(params));
    ASSERT_TRUE(overview.ok());
    EXPECT_EQ(overview->dump().find("\"requests\":0,"), std::string::npos);
  }

  uint64_t StoredRequests() {
    // 2026-11-26T10:00Z .. 11:00Z
    auto r = rt_->query().SeriesTotal(SeriesKind::kAll, "", 1795687200, 1795690800);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->requests : 0;
  }

  std::string Write(const std::string& name, const std::string& content) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  // The longest time to live of this test's keys, in seconds.
  int64_t MaxTtl() {
    auto keys = rt_->redis().Command({"KEYS", prefix_ + ":*"});
    EXPECT_TRUE(keys.ok());
    int64_t most = -2;
    for (const auto& k : keys->elements) {
      auto ttl = rt_->redis().Command({"TTL", k.str});
      EXPECT_TRUE(ttl.ok());
      most = std::max(most, ttl->integer);
    }
    return most;
  }

  ManualClock clock_{1795694400LL * 1000000};
  RejectedLines rejected_;
  uint64_t flushes_ = 0;  // of the last Backfill
  std::string prefix_;
  NoSleep sleeper_;
  std::filesystem::path dir_;
  std::unique_ptr<Runtime> rt_;
};

TEST_F(BackfillTest, SecondRunAddsNothing) {
  std::string content;
  for (int i = 0; i < 50; ++i) content += Line(i % 60, "/v1/orders/" + std::to_string(i), 200, "k1");
  const std::string p = Write("api.log.1", content);
  EXPECT_EQ(Backfill(p), 50u);
  EXPECT_EQ(StoredRequests(), 50u);
  EXPECT_EQ(Backfill(p), 0u);
  EXPECT_EQ(StoredRequests(), 50u);
}

TEST_F(BackfillTest, GrowingFileCountsOnlyNewLinesAndPartialLastLineWaits) {
  std::string content;
  for (int i = 0; i < 30; ++i) content += Line(i, "/v1/a", 200, "k1");
  const std::string partial = Line(40, "/v1/b", 200, "k2");
  const std::string p = Write("api.log", content + partial.substr(0, 20));
  EXPECT_EQ(Backfill(p), 30u);  // the unfinished last line is not counted
  {
    std::ofstream f(p, std::ios::binary | std::ios::app);
    f << partial.substr(20) << Line(41, "/v1/c", 500, "k2");
  }
  EXPECT_EQ(Backfill(p), 2u);
  EXPECT_EQ(StoredRequests(), 32u);
}

TEST_F(BackfillTest, GzipOfCountedFileIsRecognised) {
  std::string content;
  for (int i = 0; i < 100; ++i) content += Line(i % 60, "/v1/x/" + std::to_string(i), 200, "k3");
  EXPECT_EQ(Backfill(Write("api.log.1", content)), 100u);
  const std::string gz = (dir_ / "api.log.1.gz").string();
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  EXPECT_EQ(Backfill(gz), 0u);
  EXPECT_EQ(StoredRequests(), 100u);
}

TEST_F(BackfillTest, FillsExactlyTheGapAnAgentLeft) {
  std::string content;
  for (int i = 0; i < 60; ++i) content += Line(i, "/v1/y", 200, "k4");
  const std::string p = Write("api.log", content);
  // An agent that started at line 20's end counted lines 20..39 and
  // checkpointed them; the lines before it and after it are not counted yet.
  const size_t a = LineStart(content, 20), b = LineStart(content, 40);
  auto fp = LogFileReader::Open(p).value()->Fingerprint();
  ASSERT_TRUE(fp.ok());
  ByteIntervals agent_counted;
  agent_counted.Add(a, b);
  FlushBatch batch;
  batch.host = "bf-host";
  batch.id = "agent-batch-1";
  batch.checkpoints.push_back(FileCheckpoint{*fp, "", agent_counted.ToString()});
  ASSERT_TRUE(rt_->sink().Flush(batch).ok());
  EXPECT_EQ(Backfill(p), 40u);
  auto stored = rt_->sink().ReadCheckpoint("bf-host", *fp);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, "0-" + std::to_string(content.size()));
}

// Lanes (agent/backfill_lanes.h) count exactly as one pipeline: every answer
// the API gives, per minute included, is the same, and rejected lines land in
// the minute of the good line before them even when that line went to
// another lane (rejected lines open many of the small chunks here).
TEST_F(BackfillTest, ThreeLanesCountExactlyAsOneLane) {
  const std::string p = Write("api.log", MixedContent());
  std::unique_ptr<Runtime> other = OtherRuntime();
  ASSERT_TRUE(other);
  const uint64_t one = Backfill(p, rt_.get(), 1, 1 << 20, 1000000);
  const uint64_t rejected_one = rejected_.total();
  const auto samples_one = rejected_.samples();
  rejected_ = RejectedLines();
  const uint64_t three = Backfill(p, other.get(), 3, 2048, 1100);  // ~9 lines a chunk
  EXPECT_EQ(one, three);
  EXPECT_EQ(rejected_one, rejected_.total());
  EXPECT_GT(rejected_one, 300u);
  ASSERT_EQ(samples_one.size(), rejected_.samples().size());
  for (size_t i = 0; i < samples_one.size(); ++i) {
    EXPECT_EQ(samples_one[i].offset, rejected_.samples()[i].offset);
  }
  ExpectSameAnswers(*rt_, *other);
}

// Flushing on a thread of its own (a spare aggregator) counts exactly as one
// flush at the end: many background flushes, each while the next lines are
// read, give every answer the same, and a second run adds nothing.
TEST_F(BackfillTest, BackgroundFlushesCountExactlyAsOneFlush) {
  const std::string p = Write("api.log", MixedContent());
  std::unique_ptr<Runtime> other = OtherRuntime();
  ASSERT_TRUE(other);
  const uint64_t once = Backfill(p, rt_.get(), 1, 1 << 20, 1000000);
  EXPECT_EQ(flushes_, 1u);
  const uint64_t rejected_once = rejected_.total();
  rejected_ = RejectedLines();
  const uint64_t background = Backfill(p, other.get(), 1, 2048, 97, /*spare=*/true);
  EXPECT_GT(flushes_, 30u);  // ~9 lines a chunk, a flush every ~11 chunks
  EXPECT_EQ(once, background);
  EXPECT_EQ(rejected_once, rejected_.total());
  ExpectSameAnswers(*rt_, *other);
  EXPECT_EQ(Backfill(p, other.get(), 1, 2048, 97, /*spare=*/true), 0u);
  ExpectSameAnswers(*rt_, *other);
}

// A sink that, just before its nth flush, lets "another process" commit a
// checkpoint for the same file that also covers the bytes [from, to): that
// flush then fails (its checkpoint moved), as it would in a real race.
class AdvancingSink : public Sink {
 public:
  AdvancingSink(Sink* inner, int nth, std::string fingerprint, uint64_t from, uint64_t to)
      : inner_(inner), nth_(nth), fingerprint_(std::move(fingerprint)), from_(from), to_(to) {}
  int schema_version() const override { return inner_->schema_version(); }
  Status CheckSchema() override { return inner_->CheckSchema(); }
  Result<std::string> ReadCheckpoint(std::string_view host,
                                     std::string_view fingerprint) override {
    return inner_->ReadCheckpoint(host, fingerprint);
  }
  Status Flush(const FlushBatch& batch) override {
    if (++flushes_ == nth_) {
      auto stored = inner_->ReadCheckpoint("bf-host", fingerprint_);
      if (!stored.ok()) return stored.status();
      auto counted = ByteIntervals::Parse(*stored);
      if (!counted.ok()) return counted.status();
      counted->Add(from_, to_);
      FlushBatch other;
      other.host = "bf-host";
      other.id = "another-process";
      other.checkpoints.push_back(FileCheckpoint{fingerprint_, *stored, counted->ToString()});
      APIMETER_RETURN_IF_ERROR(inner_->Flush(other));
    }
    return inner_->Flush(batch);
  }
  Status Maintain(size_t max_groups) override { return inner_->Maintain(max_groups); }
  SinkStats ExportStats() const override { return inner_->ExportStats(); }

 private:
  Sink* inner_;
  int nth_;
  int flushes_ = 0;
  std::string fingerprint_;
  uint64_t from_, to_;
};

// Another process advancing the file's checkpoint while a flush is in flight
// (on the flush thread, or on this one) fails that flush; the file is read
// again from the new checkpoint, and the lines read meanwhile are counted
// once: every line outside the other process's range, exactly once.
TEST_F(BackfillTest, ACheckpointAdvancedDuringAFlushIsReadAgainNotCountedTwice) {
  constexpr int kLines = 30000;
  std::string content;
  for (int i = 0; i < kLines; ++i) {
    content += Line(i % 60, "/v1/z/" + std::to_string(i % 50), 200, "k" + std::to_string(i % 97));
  }
  const std::string p = Write("api.log", content);
  // The other process counted lines 21,000..21,799 (it has no counts here,
  // only the checkpoint: the lines are simply never counted by this backfill).
  const size_t a = LineStart(content, 21000), b = LineStart(content, 21800);
  auto fp = LogFileReader::Open(p).value()->Fingerprint();
  ASSERT_TRUE(fp.ok());
  for (bool spare : {false, true}) {
    SCOPED_TRACE(spare ? "flushes on their own thread" : "flushes on the reading thread");
    std::unique_ptr<Runtime> rt = OtherRuntime();
    ASSERT_TRUE(rt);
    AdvancingSink sink(&rt->sink(), 8, *fp, a, b);
    // ~290 lines a 64 KB chunk, a flush every ~4 chunks: the 8th flush
    // fails mid-file, with thousands of lines read behind it.
    Backfill(p, rt.get(), 1, 1 << 16, 1000, spare, &sink);
    EXPECT_GT(flushes_, 20u);
    auto total = rt->query().SeriesTotal(SeriesKind::kAll, "", 1795687200, 1795690800);
    ASSERT_TRUE(total.ok()) << total.status().ToString();
    EXPECT_EQ(total->requests, uint64_t{kLines - 800});
    auto stored = rt->sink().ReadCheckpoint("bf-host", *fp);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(*stored, "0-" + std::to_string(content.size()));
  }
}

TEST_F(BackfillTest, FutureDatedLinesAreRejectedAndNeverStored) {
  std::string content;
  for (int i = 0; i < 10; ++i) content += Line(i, "/v1/ok", 200, "k5");
  std::string future = Line(1, "/v1/future", 200, "k5");
  content += future.replace(future.find("2026"), 4, "6026");  // issue 13: year 6026
  future = Line(2, "/v1/future", 200, "k5");
  content += future.replace(future.find("26/Nov"), 6, "29/Nov");  // 3 days ahead of the clock
  const std::string p = Write("api.log", content);
  EXPECT_EQ(Backfill(p), 12u);  // read and counted once: 10 parsed, 2 rejected
  EXPECT_EQ(rejected_.count(ParseErrorKind::kFutureTime), 2u);
  EXPECT_EQ(rejected_.total(), 2u);
  EXPECT_EQ(StoredRequests(), 10u);
  // Every key lives at most its tier's retention (3650 d here) past the
  // newest line, not until year 6026 and beyond.
  EXPECT_LE(MaxTtl(), 3651LL * 86400);
  EXPECT_GT(MaxTtl(), 0);
}

}  // namespace
}  // namespace apimeter

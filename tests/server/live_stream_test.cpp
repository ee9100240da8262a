// /api/v1/live: parameters, event contents, and the stream over a real socket.
#include "server/live_stream.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "server/http_server.h"
#include "tests/server/test_http.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1764000000 + 95;  // 16:01:35Z: minute 16:01 is open, 16:00 closed
constexpr char kToken[] = "live-token-value";

// Timeseries answers with one point per minute of the asked range; the minute
// starting at 16:00 has 120 requests (6 4xx, 3 5xx, p99 250 ms).
class MinuteBackend : public testing::UnusedQueries {
 public:
  Result<json> Timeseries(const QueryParams& p) override {
    ++calls;
    last = p;
    if (!error.ok()) return error;
    json points = json::array();
    for (int64_t t = p.from_s; t < p.to_s; t += 60) {
      const bool busy = t == 1764000000;
      points.push_back({{"t", FormatIso8601(t)},
                        {"requests", busy ? 120 : 0},
                        {"errors_4xx", busy ? 6 : 0},
                        {"errors_5xx", busy ? 3 : 0},
                        {"bytes_out", 0},
                        {"p50", busy ? json(20.0) : json()},
                        {"p95", busy ? json(90.0) : json()},
                        {"p99", busy ? json(250.0) : json()}});
    }
    return json{{"from", FormatIso8601(p.from_s)}, {"to", FormatIso8601(p.to_s)},
                {"filter", json::object()}, {"step_s", 60}, {"points", points}};
  }
  int calls = 0;
  QueryParams last;
  Status error;
};

TEST(LiveParamsTest, DefaultsAndBounds) {
  LiveParams p;
  EXPECT_FALSE(ParseLiveParams({}, &p));
  EXPECT_EQ(p.window_s, 900);
  EXPECT_EQ(p.interval_s, 5);
  EXPECT_FALSE(ParseLiveParams({{"window", "1h"}, {"interval", "2"}, {"host", "web-1"}}, &p));
  EXPECT_EQ(p.window_s, 3600);
  EXPECT_EQ(p.interval_s, 2);
  EXPECT_EQ(p.filter.host, "web-1");
  for (const FormParams& bad : std::vector<FormParams>{{{"window", "7h"}},
                                                       {{"window", "30s"}},
                                                       {{"window", "90s"}},
                                                       {{"interval", "0"}},
                                                       {{"interval", "61"}},
                                                       {{"interval", "5s"}},
                                                       {{"from", "1h"}}}) {
    LiveParams q;
    auto err = ParseLiveParams(bad, &q);
    ASSERT_TRUE(err.has_value()) << bad.begin()->first << "=" << bad.begin()->second;
    EXPECT_EQ(err->parameter, bad.begin()->first);
  }
}

TEST(LiveSnapshotTest, LastClosedMinuteIsComputedFromItsPoint) {
  MinuteBackend backend;
  LiveParams p;
  p.window_s = 600;
  auto snap = LiveSnapshot(backend, p, kNow);
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  // The window ends with the open minute and is asked at minute resolution.
  EXPECT_EQ(backend.last.to_s, 1764000000 + 120);
  EXPECT_EQ(backend.last.from_s, 1764000000 + 120 - 600);
  EXPECT_EQ(backend.last.step_s, 60);
  EXPECT_EQ((*snap)["points"].size(), 10u);
  const json& last = (*snap)["last_minute"];
  EXPECT_EQ(last["t"], "2025-11-24T16:00:00Z");
  EXPECT_EQ(last["requests"], 120);
  EXPECT_DOUBLE_EQ(last["rps"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(last["error_rate"].get<double>(), 9.0 / 120.0);
  EXPECT_DOUBLE_EQ(last["error_rate_4xx"].get<double>(), 6.0 / 120.0);
  EXPECT_DOUBLE_EQ(last["error_rate_5xx"].get<double>(), 3.0 / 120.0);
  EXPECT_DOUBLE_EQ(last["p99"].get<double>(), 250.0);
  EXPECT_EQ((*snap)["generated_at"], FormatIso8601(kNow));
}

TEST(LiveSnapshotTest, QuietMinuteHasNullRatesNotZero) {
  MinuteBackend backend;
  auto snap = LiveSnapshot(backend, LiveParams{}, kNow + 60);  // closed minute is 16:01: empty
  ASSERT_TRUE(snap.ok());
  const json& last = (*snap)["last_minute"];
  EXPECT_EQ(last["requests"], 0);
  EXPECT_TRUE(last["error_rate"].is_null());
  EXPECT_TRUE(last["p99"].is_null());
}

TEST(LiveSnapshotTest, BackendErrorsPassThrough) {
  MinuteBackend backend;
  backend.error = Status::Unavailable("connection refused");
  auto snap = LiveSnapshot(backend, LiveParams{}, kNow);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().code(), StatusCode::kUnavailable);
}

TEST(SseEventTest, OneLineOfJsonPerEvent) {
  EXPECT_EQ(SseEvent("live", 7, json{{"a", "x\ny"}}),
            "event: live\nid: 7\ndata: {\"a\":\"x\\ny\"}\n\n");
}

// A real HttpServer on a loopback port, run on its own thread.
class LiveServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // As serve runs it: events computed on a worker.
    Status st = server_.Start(kToken, {{&backend_, {}}}, &inline_backend_, &clock_);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::string Fetch(const std::string& target, bool token, const std::string& until, int times) {
    return testing::HttpGet(server_.port(), target, token ? kToken : "", until, times);
  }

  MinuteBackend backend_, inline_backend_;
  ManualClock clock_{kNow * 1000000};
  testing::LoopbackServer server_;  // last: stopped before the backends go
};

TEST_F(LiveServerTest, StreamsEventsEveryInterval) {
  const std::string got = Fetch("/api/v1/live?interval=1&window=5m", true, "event: live", 2);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got.substr(0, 200);
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("id: 1\n"), std::string::npos);
  EXPECT_NE(got.find("id: 2\n"), std::string::npos);
  const size_t data = got.find("data: ");
  ASSERT_NE(data, std::string::npos);
  const json first = json::parse(got.substr(data + 6, got.find('\n', data) - data - 6));
  EXPECT_EQ(first["last_minute"]["requests"], 120);
  EXPECT_EQ(first["points"].size(), 5u);
  EXPECT_EQ(got.find(kToken), std::string::npos);
}

TEST_F(LiveServerTest, NeedsAuthAndGoodParameters) {
  const std::string unauth = Fetch("/api/v1/live", false, "\r\n\r\n", 1);
  EXPECT_EQ(unauth.rfind("HTTP/1.1 401", 0), 0u) << unauth.substr(0, 100);
  const std::string bad = Fetch("/api/v1/live?interval=0", true, "}\n", 1);
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad.substr(0, 100);
  EXPECT_NE(bad.find("\"parameter\":\"interval\""), std::string::npos);
}

// Issue 13, item 10: a closed EventSource kept its slot until its next event
// (up to 60 s), so 16 closed streams blocked new ones; and the
// apimeter_http_live_streams gauge documented in docs/api.md was missing.
TEST_F(LiveServerTest, ClosedStreamsFreeTheirSlotsAtOnce) {
  auto streams = [&] {
    return testing::Sample(server_.Metrics(), "apimeter_http_live_streams");
  };
  EXPECT_EQ(streams(), 0);
  // Fill every slot with a stream whose next event is a minute away, and
  // close each client as soon as its first event is in.
  for (int i = 0; i < HttpServer::kMaxLiveStreams; ++i) {
    const std::string got = Fetch("/api/v1/live?interval=60", true, "event: live", 1);
    ASSERT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << i << ": " << got.substr(0, 200);
  }
  // The server notices the closed clients within moments, not at a
  // minute's next event.
  ASSERT_TRUE(testing::WaitFor([&] { return streams() == 0; }, std::chrono::seconds(5)))
      << server_.Metrics();
  for (int i = 0; i < HttpServer::kMaxLiveStreams; ++i) {
    const std::string got = Fetch("/api/v1/live?interval=60", true, "event: live", 1);
    ASSERT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << i << ": " << got.substr(0, 200);
  }
  EXPECT_NE(server_.Metrics().find("# TYPE apimeter_http_live_streams gauge"), std::string::npos);
}

TEST_F(LiveServerTest, TheGaugeCountsOpenStreamsAndTheyCarryTheSecurityHeaders) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), server_.port()});
  const std::string req = std::string("GET /api/v1/live?interval=60 HTTP/1.1\r\nHost: x\r\n") +
                          "Authorization: Bearer " + kToken + "\r\n\r\n";
  boost::asio::write(sock, boost::asio::buffer(req));
  ASSERT_TRUE(testing::WaitFor([&] {
    return testing::Sample(server_.Metrics(), "apimeter_http_live_streams") == 1;
  }));
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && sock.read_some(boost::asio::buffer(&c, 1))) {
    head += c;
  }
  EXPECT_NE(head.find("\r\nX-Frame-Options: DENY\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Security-Policy: default-src 'self';"), std::string::npos)
      << head;
  EXPECT_NE(head.find("\r\nReferrer-Policy: no-referrer\r\n"), std::string::npos) << head;
  sock.close();
  EXPECT_TRUE(testing::WaitFor([&] {
    return testing::Sample(server_.Metrics(), "apimeter_http_live_streams") == 0;
  }, std::chrono::seconds(5)));
}

TEST_F(LiveServerTest, RedisDownAtStartIs503) {
  backend_.error = Status::Unavailable("connection refused");
  const std::string got = Fetch("/api/v1/live", true, "}\n", 1);
  EXPECT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got.substr(0, 100);
}

}  // namespace
}  // namespace apimeter

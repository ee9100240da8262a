// HttpServer with worker threads: answers are computed off the socket
// thread, each worker with its own backend, and a slow query holds one
// worker while the others and the sockets go on. A handler that throws is
// answered 500 and logged, with or without workers.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "server/http_server.h"
#include "tests/server/test_http.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr char kToken[] = "workers-token-value";

// Where a query with endpoint=slow waits until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, open = false;

  void Pass() {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  bool WaitEntered() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

// Answers overview with its own id and the thread it ran on.
class TaggedBackend : public testing::UnusedQueries {
 public:
  TaggedBackend(int id, Gate* gate) : id_(id), gate_(gate) {}
  Result<json> Overview(const QueryParams& p) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.insert(std::this_thread::get_id());
    }
    if (p.filter.endpoint == "slow") gate_->Pass();
    return json{{"backend", id_}};
  }
  std::set<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }

 private:
  int id_;
  Gate* gate_;
  std::mutex mu_;
  std::set<std::thread::id> threads_;
};

class HttpWorkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = server_.Start(kToken, {{&first_, {}}, {&second_, {}}}, &unused_, &clock_);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  void TearDown() override {
    gate_.Open();  // never leave a worker waiting
    server_.Stop();
  }

  std::string Get(const std::string& target) {
    return testing::HttpGet(server_.port(), target, kToken, "}", 1);
  }
  static json Body(const std::string& reply) {
    const size_t at = reply.find("\r\n\r\n");
    return at == std::string::npos ? json() : json::parse(reply.substr(at + 4), nullptr, false);
  }

  Gate gate_;
  TaggedBackend first_{1, &gate_}, second_{2, &gate_}, unused_{0, &gate_};
  ManualClock clock_{1764000000LL * 1000000};
  testing::LoopbackServer server_;
};

TEST_F(HttpWorkersTest, ASlowQueryHoldsOneWorkerWhileTheOtherAnswers) {
  std::string slow_reply;
  std::thread slow([&] { slow_reply = Get("/api/v1/overview?endpoint=slow"); });
  ASSERT_TRUE(gate_.WaitEntered());

  // One worker is held at the gate: the other answers, on time.
  const std::string quick = Get("/api/v1/overview");
  EXPECT_EQ(quick.rfind("HTTP/1.1 200", 0), 0u) << quick.substr(0, 200);
  const json quick_body = Body(quick);
  ASSERT_TRUE(quick_body.contains("backend")) << quick;

  gate_.Open();
  slow.join();
  EXPECT_EQ(slow_reply.rfind("HTTP/1.1 200", 0), 0u) << slow_reply.substr(0, 200);
  const json slow_body = Body(slow_reply);
  ASSERT_TRUE(slow_body.contains("backend")) << slow_reply;
  EXPECT_NE(quick_body["backend"], slow_body["backend"]);  // two workers, one each
}

TEST_F(HttpWorkersTest, AnswersComeFromWorkersNeverTheSocketThread) {
  for (int i = 0; i < 6; ++i) {
    const std::string reply = Get("/api/v1/overview");
    ASSERT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply.substr(0, 200);
  }
  std::set<std::thread::id> used = first_.threads();
  for (auto id : second_.threads()) used.insert(id);
  EXPECT_FALSE(used.empty());
  EXPECT_EQ(used.count(server_.thread_id()), 0u);
  EXPECT_TRUE(unused_.threads().empty());  // the inline backend is not used with workers
  // Auth is still checked (on the worker) before any backend call.
  const std::string unauth = testing::HttpGet(server_.port(), "/api/v1/overview", "", "}", 1);
  EXPECT_EQ(unauth.rfind("HTTP/1.1 401", 0), 0u) << unauth.substr(0, 100);
}

// Throws on overview?endpoint=throw (a std::exception) and =throw-int.
class ThrowingBackend : public testing::UnusedQueries {
 public:
  Result<json> Overview(const QueryParams& p) override {
    if (p.filter.endpoint == "throw") throw std::runtime_error("boom from the backend");
    if (p.filter.endpoint == "throw-int") throw 42;
    return json{{"ok", true}};
  }
};

TEST(HttpAnswerExceptionsTest, AHandlerThatThrowsIsAnswered500AndLoggedNeverADeadProcess) {
  for (const bool with_workers : {true, false}) {
    SCOPED_TRACE(with_workers ? "workers" : "inline");
    ThrowingBackend first, second, inline_backend;
    ManualClock clock{1764000000LL * 1000000};
    std::mutex mu;
    std::vector<std::string> log;
    testing::LoopbackServer server;
    std::vector<RequestWorker> workers;
    if (with_workers) workers = {{&first, {}}, {&second, {}}};
    Status st = server.Start(kToken, workers, &inline_backend, &clock, [&](HttpServerOptions& o) {
      o.log_warning = [&](const std::string& line) {
        std::lock_guard<std::mutex> lock(mu);
        log.push_back(line);
      };
    });
    ASSERT_TRUE(st.ok()) << st.message();
    // More throws than workers: a worker that threw is not lost.
    for (int i = 0; i < 5; ++i) {
      const std::string reply =
          testing::HttpGet(server.port(), "/api/v1/overview?endpoint=throw", kToken, "}", 1);
      EXPECT_EQ(reply.rfind("HTTP/1.1 500", 0), 0u) << reply.substr(0, 200);
      EXPECT_EQ(reply.find("boom"), std::string::npos) << "the reason is logged, not sent";
    }
    const std::string odd =
        testing::HttpGet(server.port(), "/api/v1/overview?endpoint=throw-int", kToken, "}", 1);
    EXPECT_EQ(odd.rfind("HTTP/1.1 500", 0), 0u) << odd.substr(0, 200);
    const std::string fine = testing::HttpGet(server.port(), "/api/v1/overview", kToken, "}", 1);
    EXPECT_EQ(fine.rfind("HTTP/1.1 200", 0), 0u) << fine.substr(0, 200);
    EXPECT_NE(server.Metrics().find("apimeter_http_failed_answers_total 6"), std::string::npos);
    server.Stop();
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(log.size(), 6u);
    EXPECT_NE(log[0].find("boom from the backend"), std::string::npos) << log[0];
    EXPECT_NE(log[5].find("not a std::exception"), std::string::npos) << log[5];
  }
}

}  // namespace
}  // namespace apimeter

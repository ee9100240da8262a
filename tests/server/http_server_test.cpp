// HttpServer's socket-side defences (issue 13), each against a real server
// on a loopback port: slow and idle clients, per-client connection caps,
// request smuggling through Transfer-Encoding, sign-in throttling and its
// log, security headers, and /metrics without auth.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/http_server.h"
#include "tests/server/test_http.h"

namespace apimeter {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr char kToken[] = "server-test-token-value";

class HealthOnly : public testing::UnusedQueries {};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(const std::function<void(HttpServerOptions&)>& tweak = {}) {
    Status st = server_.Start(kToken, {}, &backend_, &clock_, [&](HttpServerOptions& o) {
      o.log_warning = [this](const std::string& line) {
        std::lock_guard<std::mutex> lock(log_mu_);
        log_.push_back(line);
      };
      if (tweak) tweak(o);
    });
    ASSERT_TRUE(st.ok()) << st.message();
  }
  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_;
  }
  std::string Raw(const std::string& bytes, const std::string& source = "") {
    return testing::RawExchange(server_.port(), bytes, source);
  }

  HealthOnly backend_;
  ManualClock clock_{1764000000LL * 1000000};
  std::mutex log_mu_;
  std::vector<std::string> log_;
  testing::LoopbackServer server_;  // last: stopped first
};

// ---------------------------------------------------------------- slowloris

// `connections` connections from `source` each send one header byte per
// tick and reconnect as soon as the server drops them, until told to stop.
class SlowHeaderAttack {
 public:
  SlowHeaderAttack(uint16_t port, const std::string& source, int connections,
                   std::chrono::milliseconds tick)
      : port_(port), source_(asio::ip::make_address(source)), tick_(tick) {
    for (int i = 0; i < connections; ++i) conns_.push_back(std::make_unique<Conn>(io_));
    for (auto& c : conns_) Connect(*c);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SlowHeaderAttack() { Stop(); }

  // Every connection has been opened and has sent a byte at least once.
  bool WaitEstablished() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return started_ >= static_cast<int>(conns_.size()); });
  }
  int reconnects() const { return reconnects_.load(); }
  void Stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      stopping_ = true;
      for (auto& c : conns_) {
        boost::system::error_code ec;
        c->timer.cancel();
        c->sock.close(ec);
      }
    });
    thread_.join();
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& io) : sock(io), timer(io) {}
    tcp::socket sock;
    asio::steady_timer timer;
    size_t sent = 0;
    bool counted = false;
  };
  static constexpr char kHead[] =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

  void Connect(Conn& c) {
    if (stopping_) return;
    boost::system::error_code ec;
    c.sock.close(ec);
    c.sock.open(tcp::v4(), ec);
    c.sock.bind({source_, 0}, ec);
    c.sent = 0;
    c.sock.async_connect({asio::ip::make_address("127.0.0.1"), port_},
                         [this, &c](boost::system::error_code cec) {
                           if (cec) return Retry(c);
                           Dribble(c);
                         });
  }
  void Retry(Conn& c) {
    if (stopping_) return;
    ++reconnects_;
    c.timer.expires_after(tick_);
    c.timer.async_wait([this, &c](boost::system::error_code ec) {
      if (!ec) Connect(c);
    });
  }
  void Dribble(Conn& c) {
    if (stopping_) return;
    const char* byte = kHead + (c.sent % (sizeof kHead - 1));
    asio::async_write(c.sock, asio::buffer(byte, 1),
                      [this, &c](boost::system::error_code ec, size_t) {
                        if (ec) return Retry(c);  // dropped by the server: come back at once
                        ++c.sent;
                        if (!c.counted) {
                          c.counted = true;
                          std::lock_guard<std::mutex> lock(mu_);
                          ++started_;
                          cv_.notify_all();
                        }
                        c.timer.expires_after(tick_);
                        c.timer.async_wait([this, &c](boost::system::error_code wait_ec) {
                          if (!wait_ec) Dribble(c);
                        });
                      });
  }

  asio::io_context io_;
  uint16_t port_;
  asio::ip::address source_;
  std::chrono::milliseconds tick_;
  std::vector<std::unique_ptr<Conn>> conns_;
  bool stopping_ = false;  // on io_'s thread
  std::atomic<int> reconnects_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  std::thread thread_;
};

// Issue 13, item 3: 100 slow-header connections used to take 64 of 64 slots
// for 10 s each, and 18 of 19 legitimate requests failed. Time is scaled
// down (deadlines of 300 ms, a byte every 30 ms), keeping the attack's shape:
// requests that never complete, reconnecting as soon as they are dropped.
// The legitimate requests go on until the server has cut attacking
// connections (at the deadline, or to make room) 200 times, so they ran
// while the attack did. Returns answered * 100 / asked.
int LegitimateRequestsDuringAnAttack(testing::LoopbackServer& server, const std::string& attacker) {
  SlowHeaderAttack attack(server.port(), attacker, 100, std::chrono::milliseconds(30));
  EXPECT_TRUE(attack.WaitEstablished());
  auto cut = [&] {
    const std::string m = server.Metrics();
    return testing::Sample(m, "apimeter_http_request_timeouts_total") +
           testing::Sample(m, "apimeter_http_evicted_connections_total");
  };
  int asked = 0, answered = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (asked < 20 || cut() < 200) {
    if (std::chrono::steady_clock::now() > give_up) {
      ADD_FAILURE() << "the attack was never cut: " << server.Metrics();
      break;
    }
    const std::string reply = testing::HttpGet(server.port(), "/healthz", "", "ok\n", 1);
    ++asked;
    if (reply.rfind("HTTP/1.1 200", 0) == 0) ++answered;
  }
  const std::string metrics = server.Metrics();
  attack.Stop();
  std::printf("attack from %s: legitimate requests answered during the attack: %d of %d\n",
              attacker.c_str(), answered, asked);
  EXPECT_GT(attack.reconnects(), 0);
  // The attackers got no more than their client's share of the connections.
  EXPECT_LE(testing::Sample(metrics, "apimeter_http_open_connections"), 32 + 1) << metrics;
  return asked == 0 ? 0 : answered * 100 / asked;
}

void ShortDeadlines(HttpServerOptions& o) {
  o.limits.idle_timeout = std::chrono::milliseconds(300);
  o.limits.request_timeout = std::chrono::milliseconds(300);
}

// From another address: the attacker has its 32 connections and its other
// attempts take the places of its own; every legitimate request is answered.
TEST_F(HttpServerTest, LegitimateRequestsAreAnsweredDuringASlowHeaderAttack) {
  Start(ShortDeadlines);
  EXPECT_EQ(LegitimateRequestsDuringAnAttack(server_, "127.0.0.2"), 100);
}

// From the legitimate client's own address (a NAT, or a proxy on this
// host): its quick requests take the places of the slow connections. A
// quick one is lost only if 32 newer connections arrive before its first
// byte is read (measured: 1 in about 50,000 with the attack at full speed).
TEST_F(HttpServerTest, LegitimateRequestsAreAnsweredDuringASlowHeaderAttackFromTheirAddress) {
  Start(ShortDeadlines);
  EXPECT_GE(LegitimateRequestsDuringAnAttack(server_, "127.0.0.1"), 99);
}

// A connection that never sends a byte, or idles after a response, is
// closed after idle_timeout (it used to be held for 10 s).
TEST_F(HttpServerTest, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  Start([](HttpServerOptions& o) { o.limits.idle_timeout = std::chrono::milliseconds(200); });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Raw(""), "");  // closed by the server: RawExchange reads until EOF
  const auto silent = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(silent, std::chrono::seconds(5));  // the client's own deadline is 10 s

  const std::string kept = Raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(kept.rfind("HTTP/1.1 200", 0), 0u) << kept;
  EXPECT_EQ(kept.find("Connection: close"), std::string::npos);  // kept alive, then idled out
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
}

// The request deadline covers the body too: a body dribbled past it is cut.
TEST_F(HttpServerTest, ARequestNotWholeWithinTheDeadlineIsDropped) {
  Start([](HttpServerOptions& o) { o.limits.request_timeout = std::chrono::milliseconds(200); });
  const auto t0 = std::chrono::steady_clock::now();
  const std::string got =
      Raw("POST /logout HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it");
  EXPECT_EQ(got, "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));  // not the old 10 s
  // Beast's timer closes the socket first (the client sees EOF) and the read
  // completes with error::timeout a few handlers later on the server's
  // thread, so the count is read again, each time behind those handlers,
  // until it is there (measured under ASan: 18 of 150 first reads were early).
  int64_t timeouts = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((timeouts = testing::Sample(server_.Metrics(), "apimeter_http_request_timeouts_total")) ==
             0 &&
         std::chrono::steady_clock::now() < give_up) {
  }
  EXPECT_EQ(timeouts, 1);
}

// Holds every request for /api/v1/overview until opened.
class GateBackend : public testing::UnusedQueries {
 public:
  Result<nlohmann::json> Overview(const QueryParams&) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return nlohmann::json{{"requests", 0}};
  }
  bool WaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return inside_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool open_ = false;
};

std::unique_ptr<tcp::socket> ConnectFrom(asio::io_context& io, const std::string& source,
                                         uint16_t port) {
  auto sock = std::make_unique<tcp::socket>(io);
  sock->open(tcp::v4());
  sock->bind({asio::ip::make_address(source), 0});
  sock->connect({asio::ip::make_address("127.0.0.1"), port});
  return sock;
}

// At its cap a client's new connection takes the place of its connection
// that has waited longest for a request; others' connections are untouched.
TEST_F(HttpServerTest, AtTheClientCapTheLongestWaitingConnectionMakesRoom) {
  Start([](HttpServerOptions& o) {
    o.limits.max_connections_per_client = 3;
    o.limits.idle_timeout = std::chrono::seconds(30);
  });
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(ConnectFrom(io, "127.0.0.2", server_.port()));
    // One at a time, so "oldest" is well defined.
    ASSERT_TRUE(testing::WaitFor([&] {
      return testing::Sample(server_.Metrics(), "apimeter_http_open_connections") == i + 1;
    }));
  }
  const std::string got =
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "127.0.0.2");
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  // The first idle connection was the one closed.
  timeval tv{10, 0};
  setsockopt(idle[0]->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  boost::system::error_code ec;
  idle[0]->read_some(asio::buffer(&c, 1), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  const std::string metrics = server_.Metrics();
  EXPECT_EQ(testing::Sample(metrics, "apimeter_http_evicted_connections_total"), 1) << metrics;
  EXPECT_EQ(testing::Sample(metrics, "apimeter_http_refused_connections_total"), 0) << metrics;
}

// When every connection of the client has a request in hand, a new one is
// refused at once; other clients are served.
TEST_F(HttpServerTest, ConnectionsPerClientAreCappedWhenNoneIsWaiting) {
  GateBackend gate;
  struct Cleanup {  // on every path out: let the workers go, then stop
    GateBackend& gate;
    testing::LoopbackServer& server;
    ~Cleanup() {
      gate.Open();
      server.Stop();
    }
  } cleanup{gate, server_};
  // Four workers: three held at the gate, one free to answer the others.
  Status st =
      server_.Start(kToken, {{&gate, {}}, {&gate, {}}, {&gate, {}}, {&gate, {}}}, &backend_,
                    &clock_, [](HttpServerOptions& o) { o.limits.max_connections_per_client = 3; });
  ASSERT_TRUE(st.ok()) << st.message();
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> busy;
  const std::string req = std::string("GET /api/v1/overview HTTP/1.1\r\nHost: x\r\n") +
                          "Authorization: Bearer " + kToken + "\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    busy.push_back(ConnectFrom(io, "127.0.0.2", server_.port()));
    asio::write(*busy.back(), asio::buffer(req));
  }
  ASSERT_TRUE(gate.WaitInside(3));
  EXPECT_EQ(Raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2"), "");
  EXPECT_EQ(Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "127.0.0.3")
                .rfind("HTTP/1.1 200", 0),
            0u);
  const std::string metrics = server_.Metrics();
  EXPECT_EQ(testing::Sample(metrics, "apimeter_http_refused_connections_total"), 1) << metrics;
  EXPECT_EQ(testing::Sample(metrics, "apimeter_http_evicted_connections_total"), 0) << metrics;
}

// ---------------------------------------------------------------- smuggling

// Issue 13, item 7: "chunked, identity" and "xchunked" were read as "no
// body", so the body was answered as a second request.
TEST_F(HttpServerTest, TransferEncodingOtherThanChunkedIs400AndCloses) {
  Start();
  const std::string smuggled = std::string("GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n") +
                               "Authorization: Bearer " + kToken + "\r\n\r\n";
  const std::string post = "POST /logout HTTP/1.1\r\nHost: x\r\n";
  for (const std::string& head : std::vector<std::string>{
           post + "Transfer-Encoding: chunked, identity\r\n\r\n",
           post + "Transfer-Encoding: xchunked\r\n\r\n",
           post + "Transfer-Encoding: identity\r\n\r\n",
           post + "Transfer-Encoding: gzip, chunked, identity\r\n\r\n",
           post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
           post + "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n",
           post + "Transfer-Encoding: chunked, chunked\r\n\r\n",
           // HTTP/1.0 has no chunked coding at all.
           "POST /logout HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           // With Content-Length: Beast already refused it; it still is.
           post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}) {
    const std::string got = Raw(head + smuggled);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << head << "\n" << got.substr(0, 300);
    EXPECT_EQ(testing::Count(got, "HTTP/1.1 "), 1) << head << ": the body was answered\n" << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << head;
    EXPECT_EQ(got.find("openapi"), std::string::npos) << head;
  }

  // Exactly "chunked" (any case, with spaces) is read as a chunked body.
  const std::string ok =
      Raw("POST /logout HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked \r\n"
          "Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 303", 0), 0u) << ok;
}

// ---------------------------------------------------------------- sign-ins

std::string LoginRequest(const std::string& token, const std::string& extra = "") {
  const std::string body = "token=" + token;
  return "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}
std::string BearerRequest(const std::string& token) {
  return "GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
         "\r\nConnection: close\r\n\r\n";
}

// Issue 13, item 6: 18,243 wrong tokens in 3 s went unnoticed. Failures are
// now counted, logged (rate-limited, with the address) and, past a burst,
// refused unchecked (429) until the client's budget refills.
TEST_F(HttpServerTest, FailedSignInsAreCountedLoggedAndThrottledPerClient) {
  Start([](HttpServerOptions& o) {
    o.limits.sign_in.burst = 3;
    o.limits.sign_in.refill_ms = 60000;
  });
  EXPECT_EQ(Raw(LoginRequest("wrong-1")).rfind("HTTP/1.1 401", 0), 0u);
  EXPECT_EQ(Raw(BearerRequest("wrong-2")).rfind("HTTP/1.1 401", 0), 0u);
  EXPECT_EQ(Raw(LoginRequest("wrong-3")).rfind("HTTP/1.1 401", 0), 0u);
  // The fourth attempt is refused unchecked, even with the right token.
  for (const std::string& req : {LoginRequest(kToken), BearerRequest(kToken)}) {
    const std::string got = Raw(req);
    EXPECT_EQ(got.rfind("HTTP/1.1 429", 0), 0u) << got.substr(0, 300);
    EXPECT_NE(got.find("Retry-After: 60"), std::string::npos) << got.substr(0, 300);
    EXPECT_NE(got.find("any failed sign-ins"), std::string::npos) << got;  // "Too many", "too many"
  }
  // Another client is not affected.
  EXPECT_EQ(Raw(BearerRequest(kToken), "127.0.0.2").rfind("HTTP/1.1 200", 0), 0u);
  // Requests that present no token (a page, a session cookie) are not throttled.
  EXPECT_EQ(
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 200", 0),
      0u);

  const std::string metrics = server_.Metrics();
  EXPECT_EQ(testing::Sample(metrics, "apimeter_http_failed_sign_ins_total"), 3) << metrics;
  EXPECT_EQ(testing::Sample(metrics, "apimeter_http_throttled_sign_ins_total"), 2) << metrics;
  // One line for the burst (the first failure), naming the address, no token.
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("failed sign-in from 127.0.0.1"), std::string::npos) << log[0];
  for (const std::string& line : log) {
    EXPECT_EQ(line.find("wrong-"), std::string::npos) << line;
    EXPECT_EQ(line.find(kToken), std::string::npos) << line;
  }

  // A minute later the client may try once more; its next line reports the
  // failures since the last one.
  clock_.Advance(60LL * 1000000);
  EXPECT_EQ(Raw(LoginRequest("wrong-4")).rfind("HTTP/1.1 401", 0), 0u);
  log = Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[1].find("(3 failures since the last line for it)"), std::string::npos) << log[1];
  EXPECT_NE(log[1].find("refused for 60 s"), std::string::npos) << log[1];
  clock_.Advance(60LL * 1000000);
  EXPECT_EQ(Raw(BearerRequest(kToken)).rfind("HTTP/1.1 200", 0), 0u);
}

// Behind a proxy on this host every client is 127.0.0.1: X-Forwarded-For's
// last entry (the one the proxy added) names the client instead.
TEST_F(HttpServerTest, BehindALocalProxyTheForwardedClientIsThrottled) {
  Start([](HttpServerOptions& o) {
    o.limits.sign_in.burst = 1;
    o.limits.sign_in.refill_ms = 60000;
  });
  EXPECT_EQ(Raw(LoginRequest("wrong", "X-Forwarded-For: 10.9.9.9, 203.0.113.5\r\n"))
                .rfind("HTTP/1.1 401", 0),
            0u);
  EXPECT_EQ(Raw(LoginRequest(kToken, "X-Forwarded-For: 203.0.113.5\r\n")).rfind("HTTP/1.1 429", 0),
            0u);
  EXPECT_EQ(Raw(LoginRequest(kToken, "X-Forwarded-For: 203.0.113.6\r\n")).rfind("HTTP/1.1 303", 0),
            0u);
  const std::vector<std::string> log = Log();
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log[0].find("failed sign-in from 203.0.113.5"), std::string::npos) << log[0];
}

// ---------------------------------------------------------------- headers

// Issue 13, item 5: X-Frame-Options (and a CSP that forbids framing) on
// every response, including the sign-in form, errors and live streams.
// Issue 15: the CSP lets the page load only its own files and run nothing
// inline; no Referer leaves any page but the sign-in form's (same-origin,
// so its POST keeps the Origin the CSRF check reads).
TEST_F(HttpServerTest, EveryResponseCarriesTheSecurityHeaders) {
  Start();
  struct Case {
    std::string request, referrer_policy;
  };
  for (const Case& c :
       {Case{"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "same-origin"},
        Case{LoginRequest("wrong"), "same-origin"},
        Case{"GET /api/v1/overview HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             "no-referrer"},
        Case{"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "no-referrer"},
        Case{"GET /assets/app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "no-referrer"},
        Case{"BAD REQUEST\r\n\r\n", "no-referrer"}}) {
    const std::string got = Raw(c.request);
    ASSERT_EQ(got.rfind("HTTP/1.1 ", 0), 0u) << c.request;
    const std::string head = got.substr(0, got.find("\r\n\r\n") + 2);
    EXPECT_NE(head.find("\r\nX-Frame-Options: DENY\r\n"), std::string::npos) << head;
    const size_t csp_at = head.find("\r\nContent-Security-Policy: ");
    ASSERT_NE(csp_at, std::string::npos) << head;
    const std::string csp = head.substr(csp_at + 2, head.find("\r\n", csp_at + 2) - csp_at - 2);
    for (const char* directive :
         {"default-src 'self';", "object-src 'none';", "frame-ancestors 'none';",
          "form-action 'self';", "base-uri 'none'"}) {
      EXPECT_NE(csp.find(directive), std::string::npos) << directive << " in " << csp;
    }
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_NE(head.find("\r\nReferrer-Policy: " + c.referrer_policy + "\r\n"), std::string::npos)
        << c.request << head;
    EXPECT_NE(head.find("\r\nX-Content-Type-Options: nosniff\r\n"), std::string::npos) << head;
  }
}

// Issue 13, item 10: /metrics without auth answered 303 (to the sign-in page).
TEST_F(HttpServerTest, MetricsWithoutAuthIs401) {
  Start();
  const std::string got = Raw("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 401", 0), 0u) << got.substr(0, 200);
  EXPECT_NE(got.find("WWW-Authenticate: Bearer"), std::string::npos);
  const std::string ok =
      Raw(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") + kToken +
          "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok.substr(0, 200);
  EXPECT_NE(ok.find("\napimeter_http_live_streams 0\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\n# TYPE process_resident_memory_bytes gauge\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("component=\"serve\"} 1\n"), std::string::npos) << ok;
}

// Families from other parts of serve (its alert evaluator) are added to
// /metrics, read at each scrape.
TEST_F(HttpServerTest, ExtraMetricsAreReadAtEachScrape) {
  std::atomic<uint64_t> held_back{0};
  Start([&held_back](HttpServerOptions& o) {
    o.extra_metrics = [&held_back](PrometheusText* out) {
      out->Metric("apimeter_alerts_partial_evaluations_total", "counter", "held back", "",
                  static_cast<double>(held_back.load()));
    };
  });
  EXPECT_EQ(testing::Sample(server_.Metrics(), "apimeter_alerts_partial_evaluations_total"), 0);
  held_back = 3;
  const std::string metrics = server_.Metrics();
  EXPECT_EQ(testing::Sample(metrics, "apimeter_alerts_partial_evaluations_total"), 3) << metrics;
  EXPECT_NE(metrics.find("# TYPE apimeter_alerts_partial_evaluations_total counter\n"),
            std::string::npos);
}

}  // namespace
}  // namespace apimeter

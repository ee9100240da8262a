// For the server tests: a real HttpServer on a loopback port run on its own
// thread (LoopbackServer), and blocking clients: HttpGet (one GET on a fresh
// connection, read until `until` has appeared `times` times or the server
// closes) and RawExchange (any bytes, read until the server closes). A 10 s
// socket deadline bounds every read, so a server that never answers fails
// the test instead of hanging it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace apimeter::testing {

inline std::string HttpGet(uint16_t port, const std::string& target, const std::string& token,
                           const std::string& until, int times) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  timeval tv{10, 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "\r\n";
  boost::asio::write(sock, boost::asio::buffer(req));
  std::string got;
  char buf[4096];
  auto count = [&] {
    int n = 0;
    for (size_t at = got.find(until); at != std::string::npos; at = got.find(until, at + 1)) ++n;
    return n;
  };
  while (count() < times) {
    // recv itself: asio's read_some would poll on past SO_RCVTIMEO's EAGAIN.
    const ssize_t n = ::recv(sock.native_handle(), buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// A QueryBackend whose every question fails with Internal("unused"): fakes
// derive from it and answer only the questions their test asks.
class UnusedQueries : public QueryBackend {
 public:
  Result<nlohmann::json> Overview(const QueryParams&) override { return Unused(); }
  Result<nlohmann::json> Endpoints(const QueryParams&) override { return Unused(); }
  Result<nlohmann::json> Customers(const QueryParams&) override { return Unused(); }
  Result<nlohmann::json> Timeseries(const QueryParams&) override { return Unused(); }
  Result<nlohmann::json> Slow(const QueryParams&) override { return Unused(); }
  Result<nlohmann::json> Heatmap(const QueryParams&, const std::string&) override {
    return Unused();
  }

 private:
  static Status Unused() { return Status::Internal("unused"); }
};

// Everything a raw client gets back for `bytes` sent on a fresh connection
// (from `source`, e.g. "127.0.0.2", when given), until the server closes it
// or 10 s pass.
inline std::string RawExchange(uint16_t port, const std::string& bytes,
                               const std::string& source = "") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.open(boost::asio::ip::tcp::v4());
  if (!source.empty()) sock.bind({boost::asio::ip::make_address(source), 0});
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  timeval tv{10, 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  boost::system::error_code ec;
  boost::asio::write(sock, boost::asio::buffer(bytes), ec);
  std::string got;
  char buf[4096];
  for (;;) {  // recv itself, so that SO_RCVTIMEO bounds the wait
    const ssize_t n = ::recv(sock.native_handle(), buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// How many times `needle` occurs in `hay`.
inline int Count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// The value of a Prometheus sample line "name value" in `text`; -1 if absent.
inline int64_t Sample(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}

// Polls `ready` every 10 ms until it holds or `limit` passes (a condition
// with a deadline, not a sleep standing in for one).
template <typename Ready>
bool WaitFor(Ready ready, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class LoopbackServer {
 public:
  // Starts on 127.0.0.1:<any port>, accepting `token`; `tweak` may change
  // the options (limits, log) before the start.
  Status Start(const std::string& token, std::vector<RequestWorker> workers,
               QueryBackend* inline_backend, const Clock* clock,
               const std::function<void(HttpServerOptions&)>& tweak = {}) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.auth.token_hashes = {HashToken(token)};
    options.auth.session_key = "loopback-test-session-key-0123456789";
    options.workers = std::move(workers);
    if (tweak) tweak(options);
    auto server = HttpServer::Start(io_, options, inline_backend, clock);
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    thread_ = std::thread([this] { io_.run(); });
    return Status::Ok();
  }
  void Stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
      server_->Stop();
      io_.stop();
    });
    thread_.join();
  }
  ~LoopbackServer() { Stop(); }

  uint16_t port() const { return server_->port(); }
  // /metrics as the server would render it now (read on its own thread).
  std::string Metrics() {
    std::promise<std::string> text;
    boost::asio::post(io_, [&] { text.set_value(server_->MetricsText()); });
    return text.get_future().get();
  }
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  boost::asio::io_context io_{1};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

}  // namespace apimeter::testing

// For the server tests: a real HttpServer on a loopback port run on its own
// thread (LoopbackServer), and a blocking HTTP/1.1 client (HttpGet): one GET
// on a fresh connection, read until `until` has appeared `times` times or the
// server closes. A 10 s socket deadline bounds every read, so a server that
// never answers fails the test instead of hanging it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
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
    boost::system::error_code ec;
    const size_t n = sock.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
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

class LoopbackServer {
 public:
  // Starts on 127.0.0.1:<any port>, accepting `token`.
  Status Start(const std::string& token, std::vector<RequestWorker> workers,
               QueryBackend* inline_backend, const Clock* clock) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.auth.token_hashes = {HashToken(token)};
    options.auth.session_key = "loopback-test-session-key-0123456789";
    options.workers = std::move(workers);
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
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  boost::asio::io_context io_{1};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

}  // namespace apimeter::testing

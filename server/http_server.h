// HttpServer: `apimeter serve`'s socket side, around the pure Handle().
//
// Promise: listens only where told (host:port; port 0 = any, for tests).
// Requests are bounded: 16 KiB of headers, 4 KiB of body (413/431 otherwise),
// a 10 s deadline for each request to arrive and each response to be sent, at
// most 64 open connections (more are closed at once), one request in flight
// per connection (keep-alive allowed). GET /metrics (auth required) shows
// request counts by route and status in Prometheus text format. Tokens and
// cookies are never logged. Sockets, limits and metrics live on the caller's
// io_context, which one thread must run. Answering a request (Handle(), and
// each live event) runs on `workers`: one thread per worker, each using only
// its own backend and extensions, so a slow query holds one worker and never
// the sockets; with no workers it runs on the io_context's thread, with
// `backend` and `extensions`.
// Thread-safety: Start/Stop/port from the io_context's thread (or before it
// runs). Stop waits for the answers being computed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "server/api_handler.h"
#include "server/auth.h"

namespace apimeter {

// What one worker thread answers with: never shared with another worker.
struct RequestWorker {
  QueryBackend* backend = nullptr;
  std::vector<ApiExtension*> extensions;  // extra /api/v1/ routes
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";
  AuthConfig auth;
  const StaticAssets* assets = nullptr;  // the dashboard's files; null serves none (404)
  std::vector<ApiExtension*> extensions;  // extra /api/v1/ routes; must outlive the server
  // One thread each; empty: answer on the io_context's thread. Must outlive the server.
  std::vector<RequestWorker> workers;
};

class HttpServer {
 public:
  static constexpr size_t kHeaderLimit = 16 * 1024;
  static constexpr size_t kBodyLimit = 4 * 1024;
  static constexpr int kMaxConnections = 64;
  static constexpr int kDeadlineSeconds = 10;
  // GET /api/v1/live (server/live_stream.h): at most this many streams at
  // once (more get 503), each closed after kLiveLifetimeSeconds (EventSource
  // reconnects by itself). A stream counts as one of kMaxConnections.
  static constexpr int kMaxLiveStreams = 16;
  static constexpr int64_t kLiveLifetimeSeconds = 30 * 60;

  // backend and clock must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io,
                                                   HttpServerOptions options, QueryBackend* backend,
                                                   const Clock* clock);
  ~HttpServer();
  uint16_t port() const;
  void Stop();
  std::string MetricsText() const;

  struct Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// "host:port" → address and port; InvalidArgument naming `what` otherwise.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> ParseListen(const std::string& listen, const std::string& what);

}  // namespace apimeter

// HttpServer: `apimeter serve`'s socket side, around the pure Handle().
//
// Promise: listens only where told (host:port; port 0 = any, for tests).
// Requests are bounded (HttpServerLimits; 413/431 over the sizes): a new or
// kept-alive connection must start a request within idle_timeout, and a
// request, head and body, must arrive whole within request_timeout of its
// first byte (slow clients are closed, counted in /metrics); each response
// must be sent within write_timeout. At most max_connections are open, and
// at most max_connections_per_client from one client (client_address.h). A
// new connection over a cap takes the place of the connection (of that
// client, for its cap) that has waited longest for its request, or is closed
// at once when every one has a request in hand; so connections that dribble
// bytes or idle (slowloris) cannot keep out quick ones, from their own
// address or any other. One request in flight per connection (keep-alive
// allowed). A Transfer-Encoding other than exactly "chunked" (or any in an
// HTTP/1.0 request) is a 400 and the connection is closed, so no body can be
// read as a second request (RFC 9112 6.1). Requests that present a token
// (server/api_handler.h, PresentsToken) from a client throttled after
// failed sign-ins get 429 without the token being checked
// (sign_in_throttle.h); failures are counted in /metrics and logged through
// `log_warning` (rate-limited, with the client address). Every response
// carries kSecurityHeaders (http_util.h). A live stream ends as soon as its
// client disconnects. The live stream and /metrics, answered here rather than
// in Handle(), go through the same ApplyAccess (server/access.h) as every
// API route. A trusted sign-in header from a peer that is not a configured
// proxy is counted (apimeter_http_ignored_trusted_headers_total) and logged
// through `log_warning` at most once a minute. GET /metrics (auth required) shows request counts by
// route and status and the gauges and counters above in Prometheus text
// format. Tokens and cookies are never logged. Sockets, limits and metrics
// live on the caller's io_context, which one thread must run. Answering a
// request (Handle(), and each live event) runs on `workers`: one thread per
// worker, each using only its own backend and extensions, so a slow query
// holds one worker and never the sockets; with no workers it runs on the
// io_context's thread, with `backend` and `extensions`. An exception thrown
// while answering never ends the process or loses a worker: the request is
// answered 500 (a live stream gets an error event), the reason goes to
// `log_warning` and apimeter_http_failed_answers_total counts it.
// Thread-safety: Start/Stop/port/MetricsText from the io_context's thread
// (or before it runs). Stop waits for the answers being computed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/prometheus_text.h"
#include "common/result.h"
#include "server/api_handler.h"
#include "server/auth.h"
#include "server/sign_in_throttle.h"

namespace apimeter {

// What one worker thread answers with: never shared with another worker.
struct RequestWorker {
  QueryBackend* backend = nullptr;
  std::vector<ApiExtension*> extensions;  // extra /api/v1/ routes
};

struct HttpServerLimits {
  int max_connections = 256;
  int max_connections_per_client = 32;
  std::chrono::milliseconds idle_timeout{5000};     // until a request's first byte
  std::chrono::milliseconds request_timeout{5000};  // from it until the request is whole
  std::chrono::milliseconds write_timeout{10000};   // to send a response or a live event
  SignInThrottle::Options sign_in;
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";
  AuthConfig auth;
  const StaticAssets* assets = nullptr;  // the dashboard's files; null serves none (404)
  std::vector<ApiExtension*> extensions;  // extra /api/v1/ routes; must outlive the server
  // One thread each; empty: answer on the io_context's thread. Must outlive the server.
  std::vector<RequestWorker> workers;
  HttpServerLimits limits;
  // Failed sign-ins (rate-limited lines); null: not logged. Called on the
  // io_context's thread.
  std::function<void(const std::string&)> log_warning;
  // apimeter_build_info's labels on /metrics (with the process_* families).
  std::string build_version, build_revision;
  // More families for /metrics from parts of the process the server does not
  // know (serve's alert evaluator); null: none. Called on the io_context's
  // thread, so it must read only what is safe from there (atomics).
  std::function<void(PrometheusText*)> extra_metrics;
};

class HttpServer {
 public:
  static constexpr size_t kHeaderLimit = 16 * 1024;
  static constexpr size_t kBodyLimit = 4 * 1024;
  // GET /api/v1/live (server/live_stream.h): at most this many streams at
  // once (more get 503), each closed after kLiveLifetimeSeconds (EventSource
  // reconnects by itself). A stream counts as one of the connections.
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

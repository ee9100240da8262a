// MetricsServer: serves the agent's Prometheus metrics over HTTP on the
// agent's event loop.
//
// Promise: listens only where configured (default 127.0.0.1:9465, never
// 0.0.0.0 unless asked); answers GET /metrics (200, text format) and
// GET /healthz (200 "ok"), 404 otherwise. Requests are bounded (8 KiB of
// headers, no body), each connection has a 5 s deadline and is closed after
// one response, and at most 16 connections are served at once, so a slow or
// hostile client cannot hold the agent. Runs on the caller's io_context
// thread; not thread-safe beyond that.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace apimeter {

class MetricsServer {
 public:
  using BodyFn = std::function<std::string()>;

  // listen: "host:port" (port 0 = any free port, for tests).
  static Result<std::unique_ptr<MetricsServer>> Start(boost::asio::io_context& io,
                                                      const std::string& listen, BodyFn body);
  ~MetricsServer();
  uint16_t port() const;
  void Stop();

  struct Impl;

 private:
  explicit MetricsServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace apimeter

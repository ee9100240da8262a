// TestRedis: a real redis-server for integration tests.
//
// Promise: Get() returns a process-wide instance. If APIMETER_TEST_REDIS_URL
// is set (CI starts one redis-server for the whole run), that server is used;
// otherwise a private redis-server is started from PATH on a free loopback
// port with a temporary directory, and stopped when the test binary exits.
// Tests share a server safely by using UniquePrefix() for their keys, never
// FLUSHALL. Readiness is awaited by polling PING against a deadline.
#pragma once

#include <string>

#include "sink/redis_client.h"

namespace apimeter::testing {

class TestRedis {
 public:
  static TestRedis& Get();
  // A private redis-server for this test binary even when
  // APIMETER_TEST_REDIS_URL is set: for tests that stop and restart the
  // server (outages), which must never stop a server other tests share.
  static TestRedis& Private();

  const std::string& url() const { return url_; }
  RedisEndpoint endpoint() const;
  // A key prefix no other test (in this or another process) uses.
  std::string UniquePrefix(const std::string& hint = "t");

  // Stops and restarts a private server (same port and data dir, AOF on), for
  // outage tests. Fails the test if the server came from the environment.
  void Stop();
  void Start();

  ~TestRedis();

 private:
  explicit TestRedis(bool allow_environment);
  std::string url_;
  int port_ = 0;
  int pid_ = -1;
  std::string dir_;
  bool owned_ = false;
  int counter_ = 0;
};

}  // namespace apimeter::testing

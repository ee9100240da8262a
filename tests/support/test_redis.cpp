#include "tests/support/test_redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace apimeter::testing {
namespace {

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool WaitForPing(const RedisEndpoint& ep, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    RedisClient client(ep);
    if (client.Connect().ok()) {
      auto r = client.Command({"PING"});
      if (r.ok() && !r->is_error()) return true;
    }
    // Polling a condition against a deadline, not sleeping to synchronise.
    ::usleep(20000);
  }
  return false;
}

}  // namespace

TestRedis& TestRedis::Get() {
  static TestRedis instance(true);
  return instance;
}

TestRedis& TestRedis::Private() {
  static TestRedis instance(false);
  return instance;
}

TestRedis::TestRedis(bool allow_environment) {
  const char* env = allow_environment ? std::getenv("APIMETER_TEST_REDIS_URL") : nullptr;
  if (env && *env) {
    url_ = env;
    auto ep = ParseRedisUrl(url_);
    if (!ep.ok() || !WaitForPing(*ep, std::chrono::seconds(10))) {
      throw std::runtime_error("APIMETER_TEST_REDIS_URL=" + url_ + " does not answer PING");
    }
    return;
  }
  owned_ = true;
  port_ = FreeLoopbackPort();
  char tmpl[] = "/tmp/apimeter-test-redis-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  url_ = "redis://127.0.0.1:" + std::to_string(port_) + "/0";
  Start();
}

RedisEndpoint TestRedis::endpoint() const { return *ParseRedisUrl(url_); }

std::string TestRedis::UniquePrefix(const std::string& hint) {
  return "test:" + hint + ":" + std::to_string(::getpid()) + ":" + std::to_string(++counter_) +
         ":" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

void TestRedis::Start() {
  if (!owned_) throw std::runtime_error("TestRedis: server comes from the environment");
  if (pid_ > 0) return;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string port = std::to_string(port_);
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--dir", dir_.c_str(), "--appendonly", "yes", "--save", "", "--daemonize", "no",
             "--loglevel", "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  if (!WaitForPing(endpoint(), std::chrono::seconds(10))) {
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_));
  }
}

void TestRedis::Stop() {
  if (!owned_) throw std::runtime_error("TestRedis: server comes from the environment");
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

TestRedis::~TestRedis() {
  if (owned_) {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace apimeter::testing

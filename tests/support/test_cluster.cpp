#include "tests/support/test_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace apimeter::testing {
namespace {

bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

int Spawn(const std::vector<std::string>& args, bool quiet) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (quiet) {
      FILE* null = std::fopen("/dev/null", "w");
      if (null != nullptr) {
        ::dup2(fileno(null), 1);
        ::dup2(fileno(null), 2);
      }
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

bool Healthy(const RedisEndpoint& ep) {
  RedisClient c(ep);
  auto r = c.Command({"CLUSTER", "INFO"});
  return r.ok() && r->str.find("cluster_state:ok") != std::string::npos &&
         r->str.find("cluster_slots_ok:16384") != std::string::npos;
}

template <typename F>
bool PollUntil(F&& f, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    ::usleep(20000);  // polling a condition against a deadline
  }
  return false;
}

}  // namespace

TestCluster::TestCluster(int masters, int replicas) {
  char tmpl[] = "/tmp/apimeter-test-cluster-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  while (static_cast<int>(ports_.size()) < masters * (1 + replicas)) {
    const int p = 20000 + static_cast<int>(rng() % 20000);
    if (std::find(ports_.begin(), ports_.end(), p) == ports_.end() && PortFree(p) &&
        PortFree(p + 10000)) {
      ports_.push_back(p);
    }
  }
  for (int p : ports_) {
    const std::string d = dir_ + "/" + std::to_string(p);
    std::filesystem::create_directories(d);
    pids_.push_back(Spawn({"redis-server", "--port", std::to_string(p), "--bind", "127.0.0.1",
                           "--dir", d, "--cluster-enabled", "yes", "--cluster-config-file",
                           "nodes.conf", "--cluster-node-timeout", "2000", "--save", "",
                           "--appendonly", "no", "--loglevel", "warning"},
                          /*quiet=*/true));
  }
  for (int p : ports_) {
    RedisEndpoint ep = NodeEndpoint("127.0.0.1:" + std::to_string(p));
    if (!PollUntil([&] { return RedisClient(ep).Command({"PING"}).ok(); },
                   std::chrono::seconds(10))) {
      throw std::runtime_error("redis-server on port " + std::to_string(p) + " did not start");
    }
  }
  std::vector<std::string> create{"redis-cli", "--cluster", "create"};
  for (const std::string& s : seeds()) create.push_back(s);
  for (const char* a : {"--cluster-replicas", "--cluster-yes"}) create.push_back(a);
  create.insert(create.end() - 1, std::to_string(replicas));
  const int pid = Spawn(create, /*quiet=*/true);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("redis-cli --cluster create failed");
  }
  for (const std::string& s : seeds()) {
    if (!PollUntil([&] { return Healthy(NodeEndpoint(s)); }, std::chrono::seconds(30))) {
      throw std::runtime_error("Redis Cluster node " + s + " never reported cluster_state:ok");
    }
  }
}

TestCluster::~TestCluster() {
  for (int pid : pids_) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> TestCluster::seeds() const {
  std::vector<std::string> out;
  for (int p : ports_) out.push_back("127.0.0.1:" + std::to_string(p));
  return out;
}

RedisEndpoint TestCluster::NodeEndpoint(const std::string& host_port) const {
  RedisEndpoint ep;
  SplitHostPort(host_port, &ep.host, &ep.port);
  ep.connect_timeout = std::chrono::milliseconds(1000);
  ep.command_timeout = std::chrono::milliseconds(5000);
  return ep;
}

ClusterOptions TestCluster::Options() const {
  ClusterOptions o;
  o.seeds = seeds();
  o.node.connect_timeout = std::chrono::milliseconds(1000);
  o.node.command_timeout = std::chrono::milliseconds(5000);
  o.max_wait = std::chrono::milliseconds(5000);
  return o;
}

std::string TestCluster::NodeId(const std::string& host_port) const {
  RedisClient c(NodeEndpoint(host_port));
  auto r = c.Command({"CLUSTER", "MYID"});
  return r.ok() ? r->str : std::string();
}

}  // namespace apimeter::testing

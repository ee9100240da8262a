#include "tests/support/test_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
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

void KillAndReap(int pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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

bool TestCluster::StartNodes(int count) {
  std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::vector<int> ports;
  // Base ports 20000..22699, bus ports 30000..32699: below the ephemeral range.
  for (int tries = 0; static_cast<int>(ports.size()) < count; ++tries) {
    if (tries > 100 * count) throw std::runtime_error("no free ports for a test cluster");
    const int p = 20000 + static_cast<int>(rng() % 2700);
    if (std::find(ports.begin(), ports.end(), p) == ports.end() &&
        std::find(ports_.begin(), ports_.end(), p) == ports_.end() && PortFree(p) &&
        PortFree(p + 10000)) {
      ports.push_back(p);
    }
  }
  const size_t first = pids_.size();
  for (int p : ports) {
    const std::string d = dir_ + "/" + std::to_string(p);
    std::filesystem::create_directories(d);
    std::vector<std::string> args{"redis-server",
                           "--port",
                           std::to_string(p),
                           "--bind",
                           "127.0.0.1",
                           "--dir",
                           d,
                           "--cluster-enabled",
                           "yes",
                           "--cluster-config-file",
                           "nodes.conf",
                           "--cluster-node-timeout",
                           std::to_string(node_timeout_ms_),
                           "--save",
                           "",
                           "--appendonly",
                           "no",
                           "--repl-diskless-sync-delay",
                           "0",
                           "--loglevel",
                           "warning",
                           "--logfile",
                           d + "/redis.log"};
    if (!password_.empty()) {
      for (const char* o : {"--requirepass", "--masterauth"}) {
        args.push_back(o);
        args.push_back(password_);
      }
    }
    pids_.push_back(Spawn(args, /*quiet=*/true));
  }
  bool taken = false;
  for (size_t i = 0; i < ports.size(); ++i) {
    RedisEndpoint ep = NodeEndpoint("127.0.0.1:" + std::to_string(ports[i]));
    bool exited = false;
    const bool up = PollUntil(
        [&] {
          int status = 0;
          exited = ::waitpid(pids_[first + i], &status, WNOHANG) == pids_[first + i];
          return exited || RedisClient(ep).Command({"PING"}).ok();
        },
        std::chrono::seconds(10));
    const std::string log = ReadFile(dir_ + "/" + std::to_string(ports[i]) + "/redis.log");
    if (exited && log.find("Address already in use") != std::string::npos) {
      pids_[first + i] = -1;  // reaped
      taken = true;
    } else if (!up || exited) {
      if (exited) pids_[first + i] = -1;  // reaped
      throw std::runtime_error("redis-server on port " + std::to_string(ports[i]) +
                               " did not start: " + log.substr(0, 2000));
    }
  }
  if (taken) {
    for (size_t i = first; i < pids_.size(); ++i) KillAndReap(pids_[i]);
    pids_.resize(first);
    return false;
  }
  ports_.insert(ports_.end(), ports.begin(), ports.end());
  return true;
}

TestCluster::TestCluster(int masters, int replicas, int node_timeout_ms, std::string password)
    : node_timeout_ms_(node_timeout_ms), password_(std::move(password)) {
  char tmpl[] = "/tmp/apimeter-test-cluster-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  try {
    Start(masters, replicas);
  } catch (...) {
    StopAll();  // a throwing constructor runs no destructor: stop what started
    throw;
  }
}

void TestCluster::Start(int masters, int replicas) {
  int attempts = 0;
  while (!StartNodes(masters * (1 + replicas))) {
    if (++attempts == 5) throw std::runtime_error("test cluster ports were taken 5 times");
  }
  std::vector<std::string> create{"redis-cli"};
  if (!password_.empty()) create.insert(create.end(), {"-a", password_, "--no-auth-warning"});
  create.insert(create.end(), {"--cluster", "create"});
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
  if (replicas > 0 &&
      !PollUntil([&] { return ReplicasListed(replicas); }, std::chrono::seconds(30))) {
    throw std::runtime_error("Redis Cluster nodes never listed every master's replicas");
  }
}

bool TestCluster::ReplicasListed(int per_master) const {
  for (const std::string& s : seeds()) {
    RedisClient c(NodeEndpoint(s));
    auto r = c.Command({"CLUSTER", "SLOTS"});
    if (!r.ok() || r->elements.empty()) return false;
    for (const RedisReply& range : r->elements) {
      if (static_cast<int>(range.elements.size()) < 3 + per_master) return false;
    }
  }
  return true;
}

std::vector<std::string> TestCluster::ReplicasOf(const std::string& master) const {
  std::vector<std::string> out;
  RedisClient c(NodeEndpoint(master));
  auto r = c.Command({"CLUSTER", "SLOTS"});
  if (!r.ok()) return out;
  for (const RedisReply& range : r->elements) {
    if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
    const RedisReply& m = range.elements[2];
    if (m.elements[0].str + ":" + std::to_string(m.elements[1].integer) != master) continue;
    for (size_t i = 3; i < range.elements.size(); ++i) {
      const RedisReply& rep = range.elements[i];
      const std::string node = rep.elements[0].str + ":" + std::to_string(rep.elements[1].integer);
      if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
    }
  }
  return out;
}

void TestCluster::Kill(const std::string& host_port) {
  for (size_t i = 0; i < ports_.size(); ++i) {
    if ("127.0.0.1:" + std::to_string(ports_[i]) == host_port) {
      KillAndReap(pids_[i]);
      pids_[i] = -1;
    }
  }
}

TestCluster::~TestCluster() { StopAll(); }

void TestCluster::StopAll() {
  for (int pid : pids_) KillAndReap(pid);
  pids_.clear();
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
  ep.password = password_;
  return ep;
}

ClusterOptions TestCluster::Options() const {
  ClusterOptions o;
  o.seeds = seeds();
  o.node.connect_timeout = std::chrono::milliseconds(1000);
  o.node.command_timeout = std::chrono::milliseconds(5000);
  o.node.password = password_;
  o.max_wait = std::chrono::milliseconds(5000);
  return o;
}

std::string TestCluster::NodeId(const std::string& host_port) const {
  RedisClient c(NodeEndpoint(host_port));
  auto r = c.Command({"CLUSTER", "MYID"});
  return r.ok() ? r->str : std::string();
}

PausedWrites::PausedWrites(const TestCluster& cluster, const std::string& node)
    : client_(cluster.NodeEndpoint(node)) {
  auto r = client_.Command({"CLIENT", "PAUSE", "300000", "WRITE"});
  ok_ = paused_ = r.ok() && !r->is_error();
}

PausedWrites::~PausedWrites() { (void)Unpause(); }

bool PausedWrites::Unpause() {
  if (!paused_) return true;
  auto r = client_.Command({"CLIENT", "UNPAUSE"});
  paused_ = !(r.ok() && !r->is_error());
  return !paused_;
}

}  // namespace apimeter::testing

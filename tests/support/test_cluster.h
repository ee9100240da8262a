// TestCluster: a private Redis Cluster for integration tests: `masters`
// redis-server processes (plus `replicas` per master) with cluster-enabled,
// each in its own temporary directory on free loopback ports (the port and
// its bus port +10000 both free), joined with `redis-cli --cluster create`.
//
// Promise: the constructor returns once every node reports cluster_state:ok
// with all 16384 slots (polled against a deadline), or throws. The destructor
// kills every process it started and removes the directories.
#pragma once

#include <string>
#include <vector>

#include "sink/cluster_client.h"

namespace apimeter::testing {

class TestCluster {
 public:
  explicit TestCluster(int masters = 3, int replicas = 0);
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  std::vector<std::string> seeds() const;  // "127.0.0.1:<port>" of every node
  ClusterOptions Options() const;          // seeds, short timeouts
  // A direct connection to one node (for CLUSTER SETSLOT, CLIENT PAUSE, ...).
  RedisEndpoint NodeEndpoint(const std::string& host_port) const;
  // CLUSTER MYID of a node.
  std::string NodeId(const std::string& host_port) const;

 private:
  std::string dir_;
  std::vector<int> ports_;
  std::vector<int> pids_;
};

}  // namespace apimeter::testing

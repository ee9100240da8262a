// TestCluster: a private Redis Cluster for integration tests: `masters`
// redis-server processes (plus `replicas` per master) with cluster-enabled,
// each in its own temporary directory, joined with `redis-cli --cluster
// create`. Ports: the port and its bus port +10000 both free and both below
// Linux's ephemeral range (32768+); a node that exits at start because one
// was taken meanwhile ("Address already in use" in its log) makes the start
// try other ports, at most 5 times.
//
// Promise: the constructor returns once every node reports cluster_state:ok
// with all 16384 slots and, with replicas, once every node's CLUSTER SLOTS
// lists a replica for every range (polled against deadlines), or throws. The
// destructor kills every process it started and removes the directories.
#pragma once

#include <string>
#include <vector>

#include "sink/cluster_client.h"

namespace apimeter::testing {

class TestCluster {
 public:
  // node_timeout_ms: cluster-node-timeout (how soon a dead node is marked
  // failed). A non-empty `password` starts every node with requirepass (and
  // masterauth); NodeEndpoint and Options then carry it.
  explicit TestCluster(int masters = 3, int replicas = 0, int node_timeout_ms = 2000,
                       std::string password = "");
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  std::vector<std::string> seeds() const;  // "127.0.0.1:<port>" of every node
  ClusterOptions Options() const;          // seeds, short timeouts
  // A direct connection to one node (for CLUSTER SETSLOT, CLIENT PAUSE, ...).
  RedisEndpoint NodeEndpoint(const std::string& host_port) const;
  // CLUSTER MYID of a node.
  std::string NodeId(const std::string& host_port) const;
  // "host:port" of the replicas that `master`'s CLUSTER SLOTS lists for it.
  std::vector<std::string> ReplicasOf(const std::string& master) const;
  // kill -9 one node.
  void Kill(const std::string& host_port);

 private:
  void Start(int masters, int replicas);
  int node_timeout_ms_;
  std::string password_;
  void StopAll();
  bool StartNodes(int count);  // false: a port was taken; throws on other failures
  bool ReplicasListed(int per_master) const;

  std::string dir_;
  std::vector<int> ports_;
  std::vector<int> pids_;
};

// CLIENT PAUSE WRITE on one node until Unpause() or destruction, so a failed
// assertion cannot leave the node paused for later tests. The pause has no
// time bound of its own (a bound once expired under ASan on a loaded machine
// and the fault was not tested); ok() says whether the node accepted it.
class PausedWrites {
 public:
  PausedWrites(const TestCluster& cluster, const std::string& node);
  ~PausedWrites();
  PausedWrites(const PausedWrites&) = delete;
  PausedWrites& operator=(const PausedWrites&) = delete;
  bool ok() const { return ok_; }
  // true when the node answered UNPAUSE without an error.
  bool Unpause();

 private:
  RedisClient client_;
  bool ok_ = false, paused_ = false;
};

}  // namespace apimeter::testing

// Helpers of the storage-v2 tests on a real Redis Cluster
// (cluster_block_flush_test, migrate_v1_cluster_test): one shared 3-master
// test cluster, batches and brute-force sums of realistic traffic, the
// master of a slot, and the exact read-back of every bucket of a model.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "aggregator/aggregator.h"
#include "sink/block_keys.h"
#include "sink/block_reader.h"
#include "sink/cluster_client.h"
#include "tests/sink/block_test_util.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_cluster.h"

namespace apimeter::block_test {

// The test binary's cluster: 3 masters, no replicas, started once.
inline testing::TestCluster& Cluster() {
  static testing::TestCluster cluster(3, 0);
  return cluster;
}

using Model = BucketSums;

// The brute-force sums of lines [first, last) of `t`, logged by `host`.
inline void AddToModel(const testing::Traffic& t, size_t first, size_t last,
                       const std::string& host, Model* model) {
  for (size_t i = first; i < last; ++i) {
    const testing::TrafficLine& l = t.lines[i];
    AddLineToSums(l, host, t.endpoints[l.endpoint], t.customers[l.customer], model);
  }
}

// Lines [first, last) of `t` through a real Aggregator of `host`.
inline FlushBatch BatchOf(const testing::Traffic& t, size_t first, size_t last,
                          const std::string& id, const std::string& host = "web1") {
  AggregatorOptions ao;
  ao.host = host;
  Aggregator agg(ao);
  t.Feed(first, last, &agg);
  FlushBatch b = agg.TakeBatch();
  b.id = id;
  b.host = host;
  return b;
}

// Short timeouts: a paused master's writes time out quickly, the others
// still answer on a busy machine.
inline ClusterOptions QuickOptions() {
  ClusterOptions quick = Cluster().Options();
  quick.node.command_timeout = std::chrono::milliseconds(1500);
  quick.max_wait = std::chrono::milliseconds(200);
  return quick;
}

// "host:port" of the master owning `slot` ("" when unknown).
inline std::string MasterOfSlot(ClusterClient& c, int slot) {
  auto node = c.NodeForSlot(slot);
  return node.ok() ? (*node)->endpoint().host + ":" + std::to_string((*node)->endpoint().port)
                   : std::string();
}

// Every bucket of the model read back through the cluster equals it.
inline void ExpectStored(ClusterClient& reader, const BlockKeys& keys, const Model& model) {
  NameDictionaries names;
  for (const auto& [bucket, want] : model) {
    SCOPED_TRACE(std::string("tier ") + TierLetter(bucket.first) + " bucket " +
                 std::to_string(bucket.second));
    auto got = ReadBucketSeries(reader, keys, bucket.first, bucket.second, &names);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), want.size());
    for (const auto& [name, r] : want) {
      auto it = got->find(name);
      ASSERT_NE(it, got->end()) << "missing series '" << name.name << "'";
      ASSERT_EQ(Normalize(it->second), Normalize(r))
          << "series '" << name.name << "': requests " << it->second.requests << " want "
          << r.requests;
    }
  }
}

}  // namespace apimeter::block_test

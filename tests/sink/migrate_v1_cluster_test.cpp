// `apimeter migrate` (MigrateV1ToV2) on a real Redis Cluster (3 masters):
// v1 data written by the v1 cluster writer (RedisSink on a ClusterClient)
// from realistic traffic of two hosts, one of whose flushes was stopped
// between its commit point and its apply (a master paused, the process
// gone), so a v1 journal is left. The migration finishes that journal,
// converts every master's keys, and every bucket read back as v2 blocks
// through the cluster equals the brute-force sums of all the lines, the
// journaled batch included, once. Also: a migration interrupted midway and
// run again counts everything once; a rerun on migrated data is a no-op.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "aggregator/aggregator.h"
#include "common/time_util.h"
#include "sink/block_keys.h"
#include "sink/block_reader.h"
#include "sink/cluster_client.h"
#include "sink/crc16.h"
#include "sink/migrate_v1.h"
#include "sink/redis_sink.h"
#include "sink/schema.h"
#include "sink/sink_internal.h"
#include "sink/storage_schema.h"
#include "tests/sink/cluster_test_util.h"
#include "tests/sink/realistic_traffic.h"
#include "tests/support/test_cluster.h"
#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using block_test::AddToModel;
using block_test::BatchOf;
using block_test::Cluster;
using block_test::MasterOfSlot;
using block_test::Model;
using block_test::QuickOptions;
using sink_internal::FloorDiv;
using testing::TestRedis;
using testing::Traffic;

class MigrateV1ClusterTest : public ::testing::Test {
 protected:
  MigrateV1ClusterTest() : reader_(Cluster().Options()) {}

  // v1 data of two hosts in the last hour; the second host's last batch is
  // left journaled (committed, not applied). Returns the prefix.
  std::string WriteV1WithAJournalLeft(Model* model) {
    const std::string prefix = TestRedis::Get().UniquePrefix("mig-cluster");
    const KeySchema schema(prefix);
    const int64_t start = clock_.NowSeconds() / 60 * 60 - 1800;
    const int64_t day = FloorDiv(start, kSecondsPerDay);
    const Traffic t = Traffic::Make(21, 8000, start, start + 1500, 60, 500);

    // The master to pause holds neither the day's registries (at most two
    // of the three masters) nor the second host's slot (a host name is
    // chosen whose slot is elsewhere): the commit point then commits and
    // the apply does not, whatever the slot map.
    auto writer = std::make_unique<ClusterClient>(QuickOptions());
    EXPECT_TRUE(writer->Connect().ok());
    const std::string reg_e = MasterOfSlot(*writer, HashSlot(schema.RegistryKey(day, 'e')));
    const std::string reg_c = MasterOfSlot(*writer, HashSlot(schema.RegistryKey(day, 'c')));
    std::string paused;
    for (const std::string& m : writer->Masters()) {
      if (m != reg_e && m != reg_c) paused = m;
    }
    EXPECT_EQ(writer->Masters().size(), 3u);
    EXPECT_FALSE(paused.empty());
    std::string journaled;
    for (int i = 0; i < 1000 && journaled.empty(); ++i) {
      const std::string host = "web2-" + std::to_string(i);
      if (MasterOfSlot(*writer, HashSlot(schema.HostTag(host))) != paused) journaled = host;
    }
    EXPECT_FALSE(journaled.empty()) << "every host name's slot is on " << paused;
    if (paused.empty() || journaled.empty()) return "";

    {
      ClusterClient first_writer(Cluster().Options());
      RedisSink sink(&first_writer, schema, SinkOptions{}, &clock_);
      for (size_t first = 0; first < 6000; first += 1000) {
        const std::string host = first < 3000 ? "web1" : journaled;
        Status st = sink.Flush(BatchOf(t, first, first + 1000, "v1-" + std::to_string(first), host));
        EXPECT_TRUE(st.ok()) << st.ToString();
        AddToModel(t, first, first + 1000, host, model);
      }
    }
    testing::PausedWrites pause(Cluster(), paused);
    EXPECT_TRUE(pause.ok());
    auto sink = std::make_unique<RedisSink>(writer.get(), schema, SinkOptions{}, &clock_);
    FlushBatch last = BatchOf(t, 6000, 8000, "v1-journaled", journaled);
    last.checkpoints.push_back({"access.log", "", "8000"});
    Status st = sink->Flush(last);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_NE(st.message().find("committed, applying it"), std::string::npos) << st.ToString();
    sink.reset();  // the process dies with its batch journaled
    writer.reset();
    EXPECT_TRUE(pause.Unpause());
    AddToModel(t, 6000, 8000, journaled, model);
    journaled_host_ = journaled;
    return prefix;
  }

  Result<MigrateStats> Migrate(const std::string& prefix, uint64_t fail_before_step = 0) {
    ClusterClient client(Cluster().Options());
    MigrateOptions o;
    o.fail_before_step = fail_before_step;
    return MigrateV1ToV2(client, prefix, o, &clock_);
  }

  void ExpectStored(const std::string& prefix, const Model& model) {
    block_test::ExpectStored(reader_, BlockKeys(prefix), model);
  }

  std::string SchemaMarker(const std::string& prefix) {
    auto r = reader_.Command({"GET", BlockKeys(prefix).SchemaKey()});
    return r.ok() ? r->str : "(" + r.status().ToString() + ")";
  }

  SystemClock clock_;
  ClusterClient reader_;
  std::string journaled_host_;  // the host whose last v1 batch was left journaled
};

TEST_F(MigrateV1ClusterTest, EveryMasterIsConvertedAndALeftJournalIsCountedOnce) {
  Model model;
  const std::string prefix = WriteV1WithAJournalLeft(&model);
  ASSERT_FALSE(prefix.empty());
  auto stats = Migrate(prefix);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->journals_finished, 1u);
  EXPECT_GT(stats->tags, 0u);
  EXPECT_GT(stats->keys_deleted, 0u);
  EXPECT_EQ(SchemaMarker(prefix), kStorageSchemaVersion);
  ExpectStored(prefix, model);
  // The checkpoint the journaled batch committed is kept for the v2 writer.
  auto ckpt = reader_.Command({"GET", KeySchema(prefix).ClusterCheckpointKey(journaled_host_, "access.log")});
  ASSERT_TRUE(ckpt.ok());
  EXPECT_EQ(ckpt->str, "8000");

  // A rerun on migrated data changes nothing.
  auto again = Migrate(prefix);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->was_v2);
  EXPECT_EQ(again->tags, 0u);
  EXPECT_EQ(again->blocks, 0u);
  ExpectStored(prefix, model);
}

TEST_F(MigrateV1ClusterTest, InterruptedMidwayThenRunAgainCountsEverythingOnce) {
  Model model;
  const std::string prefix = WriteV1WithAJournalLeft(&model);
  ASSERT_FALSE(prefix.empty());
  // Interrupted after the journal, the marker, the registries and a few tags.
  auto first = Migrate(prefix, 12);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  EXPECT_EQ(SchemaMarker(prefix), kMigratingSchemaMarker);
  auto second = Migrate(prefix, 40);
  ASSERT_FALSE(second.ok()) << "the run should have more than 40 write steps";
  auto done = Migrate(prefix);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->journals_finished, 0u);  // finished by the first run
  EXPECT_EQ(SchemaMarker(prefix), kStorageSchemaVersion);
  ExpectStored(prefix, model);
}

}  // namespace
}  // namespace apimeter

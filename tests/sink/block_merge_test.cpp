// Merging blocks: the merge of random blocks equals the block built from the
// naive per-key Rollup::Merge of all their series; groups must match; sums
// past 2^64 are refused.
#include "sink/block_merge.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "sink/block_codec.h"
#include "tests/sink/block_test_util.h"

namespace apimeter {
namespace {

using block_test::kAllKinds;
using block_test::MakeRandomSeries;
using block_test::RandomSeries;

TEST(BlockMerge, EqualsTheNaiveSumOfRollups) {
  std::mt19937_64 rng(5);
  BlockMerger merger;
  DecodedBlock merged, expected;
  for (int round = 0; round < 80; ++round) {
    const BlockKind kind = kAllKinds[round % 4];
    const BlockGroup group{kind, Tier::kHour, 400000 + round, static_cast<uint16_t>(round % 2)};
    const size_t k = 1 + rng() % (round % 7 == 0 ? 33 : 6);
    const uint64_t spread = 1 + rng() % 200;  // small spreads: many shared keys
    std::vector<RandomSeries> inputs;
    std::vector<DecodedBlock> blocks(k);
    std::map<SeriesKey, Rollup> naive;
    for (size_t j = 0; j < k; ++j) {
      const size_t count = rng() % 4 == 0 ? 0 : rng() % 80;
      inputs.push_back(MakeRandomSeries(rng, kind, count, spread, false));
      auto refs = inputs.back().Refs();
      ASSERT_TRUE(BuildBlock(group, j == 0, refs, &blocks[j]).ok());
      for (const auto& r : refs) naive[r.key].Merge(*r.rollup);
    }
    std::vector<KeyedRollup> sum;
    for (const auto& [key, rollup] : naive) sum.push_back({key, &rollup});
    ASSERT_TRUE(BuildBlock(group, false, sum, &expected).ok());

    std::vector<const DecodedBlock*> ptrs;
    for (const auto& b : blocks) ptrs.push_back(&b);
    Status st = merger.Merge(ptrs, &merged);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(merged.Validate().ok());
    ASSERT_TRUE(merged == expected) << "round " << round << ", " << k << " blocks";
  }
}

TEST(BlockMerge, MergedBlocksEncodeAsBases) {
  std::mt19937_64 rng(6);
  auto a = MakeRandomSeries(rng, BlockKind::kCustomer, 50, 60, false);
  auto b = MakeRandomSeries(rng, BlockKind::kCustomer, 50, 60, false);
  const BlockGroup group{BlockKind::kCustomer, Tier::kDay, 20000, 4};
  auto ra = a.Refs(), rb = b.Refs();
  auto ea = EncodeBlock(group, false, ra);
  auto eb = EncodeBlock(group, false, rb);
  ASSERT_TRUE(ea.ok() && eb.ok());
  auto da = DecodeBlock(*ea);
  auto db = DecodeBlock(*eb);
  ASSERT_TRUE(da.ok() && db.ok());
  const DecodedBlock* both[] = {&*da, &*db};
  auto merged = MergeBlocks(both);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_FALSE(merged->base());
  DecodedBlock base = *merged;
  base.set_base(true);
  auto encoded = EncodeBlock(base);
  ASSERT_TRUE(encoded.ok());
  auto back = DecodeBlock(*encoded);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->base());
  EXPECT_TRUE(*back == base);
}

TEST(BlockMerge, RefusesMixedGroupsAndNoInput) {
  DecodedBlock a({BlockKind::kEndpoint, Tier::kHour, 10, 0}, false);
  for (BlockGroup other : {BlockGroup{BlockKind::kCustomer, Tier::kHour, 10, 0},
                           BlockGroup{BlockKind::kEndpoint, Tier::kDay, 10, 0},
                           BlockGroup{BlockKind::kEndpoint, Tier::kHour, 11, 0},
                           BlockGroup{BlockKind::kEndpoint, Tier::kHour, 10, 1}}) {
    DecodedBlock b(other, false);
    const DecodedBlock* both[] = {&a, &b};
    auto merged = MergeBlocks(both);
    ASSERT_FALSE(merged.ok());
    EXPECT_EQ(merged.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(MergeBlocks({}).ok());
}

TEST(BlockMerge, RefusesSumsPast64Bits) {
  Rollup big;
  big.AddRequest(200, 0, 0, 10);
  big.bytes_out = ~uint64_t{0} - 1;
  const BlockGroup group{BlockKind::kEndpoint, Tier::kHour, 10, 0};
  const KeyedRollup series[] = {{3, &big}};
  DecodedBlock a, b;
  ASSERT_TRUE(BuildBlock(group, false, series, &a).ok());
  ASSERT_TRUE(BuildBlock(group, false, series, &b).ok());
  const DecodedBlock* both[] = {&a, &b};
  auto merged = MergeBlocks(both);
  ASSERT_FALSE(merged.ok());
  EXPECT_NE(merged.status().message().find("overflow"), std::string::npos);
  // The merger is still usable: a later merge of good blocks is exact (its
  // histogram scratch was not left dirty by the failed one).
  Rollup small;
  small.AddRequest(200, 1, 1, 10);
  const KeyedRollup one[] = {{3, &small}};
  ASSERT_TRUE(BuildBlock(group, false, one, &a).ok());
  ASSERT_TRUE(BuildBlock(group, false, one, &b).ok());
  merged = MergeBlocks(both);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->BucketCounts(0)[0], 2u);
  EXPECT_EQ(merged->latency_count()[0], 2u);
}

}  // namespace
}  // namespace apimeter

// The decoded-block cache: hits only for the stored version, one version per
// key, the byte bound, LRU order, and many threads reading and filling it.
#include "sink/block_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace apimeter {
namespace {

// A block of `series` series whose bucket says which block it is.
std::shared_ptr<const DecodedBlock> MakeBlock(int64_t id, size_t series = 10) {
  auto b =
      std::make_shared<DecodedBlock>(BlockGroup{BlockKind::kCustomer, Tier::kDay, id, 0}, true);
  b->Reserve(series, series, series);
  for (size_t i = 0; i < series; ++i) {
    SeriesCounters c;
    c.requests = 1;
    b->AppendSeries(i, c);
    b->AppendStatus(200, 1);
  }
  return b;
}

size_t Charge(const std::string& key, const DecodedBlock& b) {
  return b.MemoryBytes() + key.size() + BlockCache::kEntryOverheadBytes;
}

TEST(BlockCache, HitsOnlyTheStoredVersion) {
  BlockCache cache(1 << 20);
  auto block = MakeBlock(1);
  cache.Put("k", {3, 0xAB}, block);
  EXPECT_EQ(cache.Get("k", {3, 0xAB}), block);
  EXPECT_EQ(cache.Get("k", {4, 0xAB}), nullptr);  // compacted since
  EXPECT_EQ(cache.Get("k", {3, 0xAC}), nullptr);  // same generation, another life of the group
  EXPECT_EQ(cache.Get("other", {3, 0xAB}), nullptr);
  const auto s = cache.GetStats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, Charge("k", *block));
}

TEST(BlockCache, PutReplacesTheKeysOtherVersion) {
  BlockCache cache(1 << 20);
  cache.Put("k", {1, 0}, MakeBlock(1));
  auto newer = MakeBlock(2);
  cache.Put("k", {2, 0}, newer);
  EXPECT_EQ(cache.Get("k", {1, 0}), nullptr);
  EXPECT_EQ(cache.Get("k", {2, 0}), newer);
  EXPECT_EQ(cache.GetStats().entries, 1u);
  EXPECT_EQ(cache.GetStats().bytes, Charge("k", *newer));
}

TEST(BlockCache, EvictsLeastRecentlyUsedWithinTheBound) {
  const size_t one = Charge("a", *MakeBlock(0));
  BlockCache cache(3 * one + one / 2);  // room for three
  auto a = MakeBlock(1), b = MakeBlock(2), c = MakeBlock(3), d = MakeBlock(4);
  cache.Put("a", {1, 0}, a);
  cache.Put("b", {1, 0}, b);
  cache.Put("c", {1, 0}, c);
  EXPECT_EQ(cache.Get("a", {1, 0}), a);  // a is now the most recent; b the least
  cache.Put("d", {1, 0}, d);
  EXPECT_EQ(cache.Get("b", {1, 0}), nullptr);
  EXPECT_EQ(cache.Get("a", {1, 0}), a);
  EXPECT_EQ(cache.Get("c", {1, 0}), c);
  EXPECT_EQ(cache.Get("d", {1, 0}), d);
  auto s = cache.GetStats();
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_LE(s.bytes, s.capacity_bytes);
  // Order now (most recent first): d, c, a. Two more evict a, then c.
  cache.Put("e", {1, 0}, MakeBlock(5));
  EXPECT_EQ(cache.Get("a", {1, 0}), nullptr);
  cache.Put("f", {1, 0}, MakeBlock(6));
  EXPECT_EQ(cache.Get("c", {1, 0}), nullptr);
  EXPECT_EQ(cache.Get("d", {1, 0}), d);
  // An evicted block stays valid for a reader that holds it.
  EXPECT_EQ(b->group().bucket, 2);
}

TEST(BlockCache, DoesNotKeepABlockLargerThanTheCapacity) {
  BlockCache cache(4096);
  auto big = MakeBlock(1, 1000);
  ASSERT_GT(big->MemoryBytes(), 4096u);
  cache.Put("small", {1, 0}, MakeBlock(2, 1));
  cache.Put("big", {1, 0}, big);
  EXPECT_EQ(cache.Get("big", {1, 0}), nullptr);
  EXPECT_NE(cache.Get("small", {1, 0}), nullptr);  // nothing evicted for it
  EXPECT_EQ(cache.GetStats().too_large, 1u);
  EXPECT_EQ(cache.GetStats().evictions, 0u);
}

// Several threads read and fill one cache: every block returned is the one
// stored for that key and version, the counters add up, the bound holds.
TEST(BlockCache, ManyThreadsReadAndFill) {
  constexpr int kKeys = 64, kThreads = 4, kOps = 5000;
  const size_t one = Charge("key00", *MakeBlock(0));
  BlockCache cache(20 * one);  // a third of the keys fit
  std::atomic<uint64_t> wrong{0}, gets{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int op = 0; op < kOps; ++op) {
        const int k = static_cast<int>(rng() % kKeys);
        const uint64_t generation = rng() % 2;  // two versions in play per key
        const std::string key = "key" + std::to_string(k);
        const int64_t id = k * 10 + static_cast<int64_t>(generation);
        ++gets;
        auto block = cache.Get(key, {generation, 0});
        if (!block) {
          cache.Put(key, {generation, 0}, MakeBlock(id));
        } else if (block->group().bucket != id) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto s = cache.GetStats();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(s.hits + s.misses, gets.load());
  EXPECT_GT(s.hits, 0u);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_LE(s.bytes, s.capacity_bytes);
  EXPECT_LE(s.entries, static_cast<size_t>(kKeys));
}

}  // namespace
}  // namespace apimeter

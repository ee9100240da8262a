// Flat tables of the aggregator: NameTable compares names exactly even when
// hashes collide (the hash is passed in, so collisions are forced here),
// DayPairMap keys by the full (day, pair), ChunkedPool elements never move.
#include "aggregator/flat_tables.h"

#include <gtest/gtest.h>

#include <string>

namespace apimeter::aggregator_internal {
namespace {

TEST(NameTableTest, EqualHashesNeverMergeDifferentNames) {
  for (size_t n = 1; n <= 40; ++n) {
    NameTable t;
    const std::string base(n, 'a');
    const uint32_t id = t.Insert(base, /*hash=*/42);
    EXPECT_EQ(t.Find(base, 42), id) << n;
    for (size_t pos = 0; pos < n; ++pos) {  // differ in exactly one byte
      std::string other = base;
      other[pos] = 'b';
      EXPECT_EQ(t.Find(other, 42), NameTable::kNone) << n << " " << pos;
    }
    EXPECT_EQ(t.Find(base + "a", 42), NameTable::kNone);
    EXPECT_EQ(t.Find(base.substr(1), 42), NameTable::kNone);
  }
}

TEST(NameTableTest, HashNameDependsOnEveryByte) {
  for (size_t n = 1; n <= 40; ++n) {
    const std::string base(n, 'x');
    for (size_t pos = 0; pos < n; ++pos) {
      std::string other = base;
      other[pos] = 'y';
      EXPECT_NE(HashName(base), HashName(other)) << n << " " << pos;
    }
  }
}

TEST(DayPairMapTest, KeysAreTheFullDayAndPair) {
  DayPairMap m;
  m.Insert(-1, 7, 1);
  m.Insert(0, 7, 2);
  m.Insert(INT64_MAX, 7, 3);
  m.Insert(0, (uint64_t{7} << 32), 4);
  for (uint32_t i = 0; i < 1000; ++i) m.Insert(5, i, 100 + i);  // forces growth
  EXPECT_EQ(m.Find(-1, 7), 1u);
  EXPECT_EQ(m.Find(0, 7), 2u);
  EXPECT_EQ(m.Find(INT64_MAX, 7), 3u);
  EXPECT_EQ(m.Find(0, uint64_t{7} << 32), 4u);
  EXPECT_EQ(m.Find(1, 7), DayPairMap::kNone);
  for (uint32_t i = 0; i < 1000; ++i) EXPECT_EQ(m.Find(5, i), 100 + i);
  EXPECT_EQ(m.size(), 1004u);
}

TEST(ChunkedPoolTest, ElementsNeverMoveAndStartZeroed) {
  ChunkedPool<uint64_t> pool;
  const uint32_t first = pool.Add();
  uint64_t* p = &pool[first];
  EXPECT_EQ(*p, 0u);
  *p = 99;
  for (int i = 0; i < 5000; ++i) pool[pool.Add()] = static_cast<uint64_t>(i);
  EXPECT_EQ(&pool[first], p);
  EXPECT_EQ(pool[first], 99u);
  EXPECT_EQ(pool.size(), 5001u);
  EXPECT_EQ(pool[5000], 4999u);
}

}  // namespace
}  // namespace apimeter::aggregator_internal

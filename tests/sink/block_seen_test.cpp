// First / last seen minutes (issue 18): the optional seen columns of a
// block (format version 2, header flag bit 2), how the aggregator fills
// them for customer × endpoint day series, and how every merge (Rollup,
// BuildBlock, BlockMerger) takes min of firsts and max of lasts, and turns
// a sum with a part that does not know its minutes into "unknown".
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "aggregator/aggregator.h"
#include "sink/block.h"
#include "sink/block_codec.h"
#include "sink/block_merge.h"

namespace apimeter {
namespace {

constexpr int64_t kDay = 20000;  // a UTC day number
constexpr int64_t kFirstMinute = kDay * 1440;
const BlockGroup kGroup{BlockKind::kCustomerEndpoint, Tier::kDay, kDay, 3};

Rollup Seen(uint64_t requests, int64_t first_offset, int64_t last_offset) {
  Rollup r;
  for (uint64_t i = 0; i < requests; ++i) r.AddRequest(200, 1, 2, 1000);
  r.first_seen_minute = kFirstMinute + first_offset;
  r.last_seen_minute = kFirstMinute + last_offset;
  return r;
}

Rollup Unseen(uint64_t requests) {
  Rollup r;
  for (uint64_t i = 0; i < requests; ++i) r.AddRequest(200, 1, 2, 1000);
  return r;
}

// Rewrites both CRCs after an edit of the payload, so only the edit is wrong.
void Recrc(std::string* b) {
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) (*b)[at + i] = static_cast<char>(v >> (8 * i));
  };
  const auto* data = reinterpret_cast<const Bytef*>(b->data());
  put32(32, static_cast<uint32_t>(crc32(0, data + kBlockHeaderBytes,
                                        static_cast<uInt>(b->size() - kBlockHeaderBytes))));
  put32(36, static_cast<uint32_t>(crc32(0, data, 36)));
}

TEST(RollupSeen, MergeTakesMinOfFirstsAndMaxOfLasts) {
  Rollup a = Seen(2, 100, 200), b = Seen(1, 50, 120);
  a.Merge(b);
  EXPECT_EQ(a.first_seen_minute, kFirstMinute + 50);
  EXPECT_EQ(a.last_seen_minute, kFirstMinute + 200);
  EXPECT_EQ(a.requests, 3u);
  Rollup empty;  // no requests: neutral either way
  empty.Merge(a);
  EXPECT_EQ(empty.first_seen_minute, kFirstMinute + 50);
  a.Merge(Rollup{});
  EXPECT_EQ(a.last_seen_minute, kFirstMinute + 200);
}

TEST(RollupSeen, APartWithRequestsButNoMinutesMakesTheSumUnknown) {
  Rollup a = Seen(2, 100, 200);
  a.Merge(Unseen(1));
  EXPECT_FALSE(a.SeenKnown());
  a.Merge(Seen(1, 0, 1));  // stays unknown: an earlier part's minutes are lost
  EXPECT_FALSE(a.SeenKnown());
}

TEST(BlockSeen, BlocksWithSeenColumnsAreVersion2WithFlag4AndRoundTrip) {
  const Rollup r1 = Seen(3, 7, 1439), r2 = Seen(1, 0, 0);
  const KeyedRollup series[] = {{PairKey(3, 9), &r2}, {PairKey(3, 7), &r1}};
  auto bytes = EncodeBlock(kGroup, false, series);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ((*bytes)[4], 2);                  // format version
  EXPECT_EQ((*bytes)[7] & 4, 4);              // seen columns
  // The payload ends with first + 1 of each series, then last - first.
  const std::string tail = bytes->substr(bytes->size() - 5);
  EXPECT_EQ(tail, std::string("\x08\x01\x98\x0B\x00", 5));  // 8, 1, 1432, 0
  auto back = DecodeBlock(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->has_seen());
  const Rollup got = back->RollupAt(0);  // key (3, 7)
  EXPECT_EQ(got.first_seen_minute, kFirstMinute + 7);
  EXPECT_EQ(got.last_seen_minute, kFirstMinute + 1439);
  EXPECT_EQ(back->RollupAt(1).first_seen_minute, kFirstMinute);
  EXPECT_EQ(back->RollupAt(1).last_seen_minute, kFirstMinute);
}

// Format 2 is the only one written; a block without minutes has no seen
// columns (flag bit 2 clear).
// DecodeSelected reads a picked series' seen minutes (and the partly
// unknown ones) as the whole decode does, skipping the others'.
TEST(BlockSeen, SelectedSeriesKeepTheirSeenMinutes) {
  std::vector<Rollup> rollups;
  for (int i = 0; i < 40; ++i) {
    rollups.push_back(i % 7 == 3 ? Unseen(2) : Seen(1 + i % 3, i, i + 100 + i % 5));
  }
  std::vector<KeyedRollup> series;
  for (size_t i = 0; i < rollups.size(); ++i) {
    series.push_back({PairKey(static_cast<uint32_t>(i / 4), static_cast<uint32_t>(i % 4)), &rollups[i]});
  }
  auto bytes = EncodeBlock(kGroup, true, series);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto full = DecodeBlock(*bytes);
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(full->has_seen());
  const std::vector<size_t> pick = {1, 3, 10, 24, 39};
  BlockDecoder decoder;
  DecodedBlock selected;
  Status st = decoder.DecodeSelected(
      *bytes, kGroup, [&](const DecodedBlock&) { return Result<std::vector<size_t>>(pick); },
      &selected);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(selected.has_seen());
  ASSERT_EQ(selected.size(), pick.size());
  for (size_t k = 0; k < pick.size(); ++k) {
    EXPECT_EQ(selected.CountersAt(k), full->CountersAt(pick[k])) << k;
  }
}

TEST(BlockSeen, BlocksWithoutMinutesHaveNoSeenColumns) {
  const Rollup r = Unseen(2);
  const KeyedRollup series[] = {{PairKey(1, 2), &r}};
  auto bytes = EncodeBlock(kGroup, false, series);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ((*bytes)[4], 2);  // one series: not segmented
  EXPECT_EQ((*bytes)[7] & 4, 0);
  auto back = DecodeBlock(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->has_seen());
  EXPECT_FALSE(back->RollupAt(0).SeenKnown());
}

TEST(BlockSeen, BuildBlockMergesEqualKeysAndMarksUnknownParts) {
  const Rollup a = Seen(1, 10, 20), b = Seen(1, 5, 15), c = Unseen(1), d = Seen(1, 30, 40);
  const KeyedRollup series[] = {
      {PairKey(1, 1), &a}, {PairKey(1, 1), &b},  // known + known
      {PairKey(2, 1), &c}, {PairKey(2, 1), &d},  // unknown + known
  };
  DecodedBlock block;
  ASSERT_TRUE(BuildBlock(kGroup, false, series, &block).ok());
  EXPECT_EQ(block.seen_first(0), 5);
  EXPECT_EQ(block.seen_last(0), 20);
  EXPECT_EQ(block.seen_first(1), kSeenUnknown);
  EXPECT_EQ(block.seen_last(1), kSeenUnknown);
  auto bytes = EncodeBlock(block);
  ASSERT_TRUE(bytes.ok());
  auto back = DecodeBlock(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == block);
}

TEST(BlockSeen, BuildBlockRefusesMinutesOutsideTheBucket) {
  const Rollup late = Seen(1, 10, 1440);  // the next day's first minute
  const KeyedRollup series[] = {{PairKey(1, 1), &late}};
  DecodedBlock block;
  Status st = BuildBlock(kGroup, false, series, &block);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("outside the bucket"), std::string::npos) << st.message();
}

TEST(BlockSeen, MergerTakesMinMaxAndOldBlocksMakeSharedKeysUnknown) {
  const Rollup a = Seen(1, 600, 700), b = Seen(2, 100, 650), old = Unseen(4);
  const KeyedRollup s1[] = {{PairKey(1, 1), &a}, {PairKey(1, 2), &a}};
  const KeyedRollup s2[] = {{PairKey(1, 1), &b}};
  const KeyedRollup s3[] = {{PairKey(1, 2), &old}, {PairKey(9, 9), &old}};
  DecodedBlock b1, b2, b3;
  ASSERT_TRUE(BuildBlock(kGroup, false, s1, &b1).ok());
  ASSERT_TRUE(BuildBlock(kGroup, false, s2, &b2).ok());
  ASSERT_TRUE(BuildBlock(kGroup, false, s3, &b3).ok());  // as written before issue 18
  ASSERT_FALSE(b3.has_seen());
  const DecodedBlock* inputs[] = {&b1, &b2, &b3};
  auto merged = MergeBlocks(inputs);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  ASSERT_TRUE(merged->has_seen());
  ASSERT_EQ(merged->size(), 3u);
  EXPECT_EQ(merged->seen_first(0), 100);  // (1, 1): min of firsts
  EXPECT_EQ(merged->seen_last(0), 700);   //         max of lasts
  EXPECT_EQ(merged->requests()[0], 3u);
  EXPECT_EQ(merged->seen_first(1), kSeenUnknown);  // (1, 2): an old part
  EXPECT_EQ(merged->seen_first(2), kSeenUnknown);  // (9, 9): only old
  EXPECT_TRUE(merged->Validate().ok());
  // Compaction's base of the same blocks in another order is the same.
  const DecodedBlock* reversed[] = {&b3, &b2, &b1};
  auto again = MergeBlocks(reversed);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *merged);
}

TEST(BlockSeen, DecoderRefusesSeenColumnsItCannotTrust) {
  const Rollup r = Seen(1, 1, 2);
  const KeyedRollup series[] = {{PairKey(1, 1), &r}};
  auto good = EncodeBlock(kGroup, false, series);
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(DecodeBlock(*good).ok());
  auto message = [](const std::string& b) { return DecodeBlock(b).status().message(); };

  std::string bad = *good;  // last - first = 1440: beyond the day
  bad.pop_back();
  bad += std::string("\xA0\x0B", 2);
  const auto length = static_cast<uint32_t>(bad.size() - kBlockHeaderBytes);
  for (int i = 0; i < 4; ++i) bad[24 + i] = bad[28 + i] = static_cast<char>(length >> (8 * i));
  Recrc(&bad);
  EXPECT_NE(message(bad).find("last seen"), std::string::npos) << message(bad);

  bad = *good;  // a last seen without a first seen
  bad[bad.size() - 2] = 0;
  Recrc(&bad);
  EXPECT_NE(message(bad).find("without a first seen"), std::string::npos) << message(bad);

  bad = *good;  // flag 4 in a version-1 block
  bad[4] = 1;
  Recrc(&bad);
  EXPECT_NE(message(bad).find("unknown flags"), std::string::npos) << message(bad);

  bad = *good;  // a version this binary does not read
  bad[4] = 3;
  Recrc(&bad);
  EXPECT_NE(message(bad).find("format version 3"), std::string::npos) << message(bad);
}

TEST(AggregatorSeen, CustomerEndpointDayDeltasCarryTheirFirstAndLastMinute) {
  Aggregator agg(AggregatorOptions{.host = "h1"});
  auto add = [&](int64_t minute_of_day, int second, const char* customer) {
    LogRecord rec;
    rec.time_us = ((kFirstMinute + minute_of_day) * 60 + second) * 1000000LL;
    rec.status = 200;
    rec.latency_us = 1000;
    agg.Add(rec, "GET /v1/orders/:id", customer);
  };
  add(700, 59, "acme");  // out of order on purpose
  add(3, 0, "acme");
  add(1439, 30, "acme");
  add(42, 10, "beta");
  add(1440 + 5, 0, "acme");  // the next day
  FlushBatch batch = agg.TakeBatch();
  int found = 0;
  for (const SeriesDelta& d : batch.series) {
    if (d.kind != SeriesKind::kCustomerEndpoint) {
      EXPECT_FALSE(d.rollup.SeenKnown()) << d.name;  // only pairs track minutes
      continue;
    }
    ++found;
    const std::string customer = d.name.substr(0, d.name.find(kNameSeparator));
    const int64_t first = d.rollup.first_seen_minute - d.bucket * 1440;
    const int64_t last = d.rollup.last_seen_minute - d.bucket * 1440;
    if (customer == "acme" && d.bucket == kDay) {
      EXPECT_EQ(first, 3);
      EXPECT_EQ(last, 1439);
      EXPECT_EQ(d.rollup.requests, 3u);
    } else if (customer == "acme") {
      EXPECT_EQ(d.bucket, kDay + 1);
      EXPECT_EQ(first, 5);
      EXPECT_EQ(last, 5);
    } else {
      EXPECT_EQ(first, 42);
      EXPECT_EQ(last, 42);
    }
  }
  EXPECT_EQ(found, 3);
}

}  // namespace
}  // namespace apimeter

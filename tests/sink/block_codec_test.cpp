// The storage-v2 block: the typed block (build, find, RollupAt, Validate),
// varints, the bytes the codec writes (pinned against docs/storage-v2.md
// "Block format"), round trips of random blocks of every kind, and the
// partial reads (DecodeRequests, DecodeSelected).
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sink/block.h"
#include "sink/block_codec.h"
#include "sink/varint.h"
#include "tests/sink/block_test_util.h"

namespace apimeter {
namespace {

using block_test::kAllKinds;
using block_test::MakeRandomSeries;
using block_test::Normalize;

uint64_t LE(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(s[at + i])} << (8 * i);
  return v;
}

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

TEST(Varint, RoundTripsEdgeValues) {
  const uint64_t values[] = {
      0, 1, 127, 128, 300, 16383, 16384, (uint64_t{1} << 63) - 1, uint64_t{1} << 63, ~uint64_t{0}};
  for (uint64_t v : values) {
    uint8_t buf[kMaxVarintBytes];
    const uint8_t* end = PutVarint(buf, v);
    const uint8_t* p = buf;
    uint64_t got = 0;
    ASSERT_TRUE(ReadVarint(p, end, &got)) << v;
    EXPECT_EQ(got, v);
    EXPECT_EQ(p, end);
    // Every truncation fails without reading past the end.
    for (const uint8_t* cut = buf; cut < end; ++cut) {
      p = buf;
      EXPECT_FALSE(ReadVarint(p, cut, &got)) << v;
    }
  }
}

TEST(Varint, RejectsValuesBeyond64Bits) {
  // 2^64: ten bytes whose last carries bit 64.
  std::string over = Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02});
  // Eleven bytes.
  std::string eleven = Bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00});
  for (const std::string& s : {over, eleven}) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    uint64_t v;
    EXPECT_FALSE(ReadVarint(p, p + s.size(), &v));
  }
}

// Two endpoint series, encoded by hand from the column list of the doc.
TEST(BlockCodec, WritesTheBytesTheDocDescribes) {
  ASSERT_EQ(LatencyHistogram::BucketIndex(300), 286);
  Rollup first, second;
  first.AddRequest(200, 10, 20, 300);
  second.AddRequest(200, 0, 0, -1);
  second.AddRequest(404, 0, 0, -1);
  const BlockGroup group{BlockKind::kEndpoint, Tier::kHour, 0x0102030405, 1};
  const KeyedRollup series[] = {{9, &second}, {5, &first}};  // any order
  auto block = EncodeBlock(group, false, series);
  ASSERT_TRUE(block.ok()) << block.status().ToString();

  const std::string payload = Bytes({
      0x05, 0x04,              // keys 5, 9 (delta)
      0x01, 0x02,              // requests
      0x0A, 0x00,              // bytes in
      0x14, 0x00,              // bytes out
      0x01, 0x00,              // latency count
      0x02,                    // latency unit 10^2 µs (300 µs is 3 of them)
      0x04, 0x00,              // latency max / unit + 1: 4, none
      0x00, 0x00,              // (latency sum - max) / unit: 0, none
      0x01, 0x02,              // statuses: list lengths
      0xC8, 0x01,              //   codes of series 5: 200
      0xC8, 0x01, 0xCC, 0x01,  //   codes of series 9: 200, 404 (+204)
      0x01, 0x01,              //   counts (series 5: one code, its count is its requests)
      0x00, 0x00,              // histogram: list lengths (series 5: implied, the bucket
                               // of its max, 286, holding its latency count)
  });
  const std::string& b = *block;
  ASSERT_EQ(b.size(), kBlockHeaderBytes + payload.size());
  EXPECT_EQ(b.substr(0, 4), "AMB2");
  EXPECT_EQ(b[4], 2);    // version
  EXPECT_EQ(b[5], 'e');  // kind
  EXPECT_EQ(b[6], 'h');  // tier
  EXPECT_EQ(b[7], 0);    // flags: raw (≤ 256 bytes), delta
  EXPECT_EQ(LE(b, 8, 8), 0x0102030405u);
  EXPECT_EQ(LE(b, 16, 2), 1u);  // shard
  EXPECT_EQ(LE(b, 18, 2), 0u);  // reserved
  EXPECT_EQ(LE(b, 20, 4), 2u);  // series
  EXPECT_EQ(LE(b, 24, 4), payload.size());
  EXPECT_EQ(LE(b, 28, 4), payload.size());
  EXPECT_EQ(LE(b, 32, 4), crc32(0, reinterpret_cast<const Bytef*>(payload.data()),
                                static_cast<uInt>(payload.size())));
  EXPECT_EQ(LE(b, 36, 4), crc32(0, reinterpret_cast<const Bytef*>(b.data()), 36));
  EXPECT_EQ(b.substr(kBlockHeaderBytes), payload);
}

// Format 1 (written before format 2, and still in Redis until its bucket
// expires or is compacted): the same two series, every latency in µs and
// every status and histogram entry written. It reads as the same block.
TEST(BlockCodec, ReadsFormatOneBlocks) {
  Rollup first, second;
  first.AddRequest(200, 10, 20, 300);
  second.AddRequest(200, 0, 0, -1);
  second.AddRequest(404, 0, 0, -1);
  const BlockGroup group{BlockKind::kEndpoint, Tier::kHour, 0x0102030405, 1};
  const KeyedRollup series[] = {{5, &first}, {9, &second}};
  auto now = EncodeBlock(group, false, series);
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  const std::string payload = Bytes({
      0x05, 0x04, 0x01, 0x02, 0x0A, 0x00, 0x14, 0x00, 0x01, 0x00,  // keys .. latency count
      0xAD, 0x02, 0x00,                                            // latency max + 1 (µs)
      0x00, 0x00,                                                  // latency sum - max
      0x01, 0x02, 0xC8, 0x01, 0xC8, 0x01, 0xCC, 0x01, 0x01, 0x01, 0x01,  // statuses
      0x01, 0x00, 0x9E, 0x02, 0x01,                                      // histogram
  });
  std::string old = now->substr(0, kBlockHeaderBytes) + payload;
  old[4] = 1;
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) old[at + i] = static_cast<char>(v >> (8 * i));
  };
  put32(24, static_cast<uint32_t>(payload.size()));
  put32(28, static_cast<uint32_t>(payload.size()));
  put32(32, crc32(0, reinterpret_cast<const Bytef*>(payload.data()),
                  static_cast<uInt>(payload.size())));
  put32(36, crc32(0, reinterpret_cast<const Bytef*>(old.data()), 36));
  auto a = DecodeBlock(old);
  auto b = DecodeBlock(*now);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(*a == *b);
  EXPECT_EQ(a->BucketIndexes(0)[0], 286);
  EXPECT_EQ(a->latency_max_us()[0], 300);
}

// Format 2 leaves out what a series' totals imply; a series whose
// histogram is not just the bucket of its max keeps it, and a block with a
// latency that is not a multiple of 10 µs keeps µs.
TEST(BlockCodec, ImpliedEntriesAndLatencyUnitRoundTrip) {
  Rollup ms, odd, spread;
  ms.AddRequest(200, 1, 2, 45000);
  odd.AddRequest(500, 1, 2, 1234567);
  spread.AddRequest(200, 1, 2, 1000);
  spread.AddRequest(200, 1, 2, 90000);
  spread.AddRequest(429, 1, 2, 90000);
  const BlockGroup group{BlockKind::kCustomer, Tier::kMinute, 29000000, 0};
  for (bool with_odd : {false, true}) {
    std::vector<KeyedRollup> series = {{2, &ms}, {7, &spread}};
    if (with_odd) series.push_back({9, &odd});
    auto block = EncodeBlock(group, false, series);
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    auto back = DecodeBlock(*block);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    DecodedBlock want;
    ASSERT_TRUE(BuildBlock(group, false, series, &want).ok());
    EXPECT_TRUE(*back == want);
  }
}

TEST(BlockCodec, PairKeysDeltaTheEndpointOnlyUnderTheSameCustomer) {
  Rollup r;
  r.AddRequest(200, 0, 0, -1);
  const BlockGroup group{BlockKind::kCustomerEndpoint, Tier::kDay, 20000, 3};
  const KeyedRollup series[] = {{PairKey(3, 7), &r}, {PairKey(3, 9), &r}, {PairKey(5, 1), &r}};
  auto block = EncodeBlock(group, false, series);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ(block->substr(kBlockHeaderBytes, 6), Bytes({3, 7, 0, 2, 2, 1}));
  auto back = DecodeBlock(*block);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::vector<SeriesKey>(back->keys().begin(), back->keys().end()),
            (std::vector<SeriesKey>{PairKey(3, 7), PairKey(3, 9), PairKey(5, 1)}));
}

TEST(BlockCodec, AllKindRejectedColumnAndHostKeys) {
  Rollup all, host;
  all.AddRequest(200, 1, 2, 5);
  all.rejected = 7;
  host.AddRequest(200, 1, 2, 5);
  host.rejected = 7;
  const BlockGroup group{BlockKind::kAll, Tier::kMinute, 29400123, 0};
  // Host id 0 ("other") must not collide with the all series.
  const KeyedRollup series[] = {{kAllSeriesKey, &all}, {HostSeriesKey(0), &host}};
  auto block = EncodeBlock(group, true, series);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ((*block)[7], 2);  // flags: base
  auto back = DecodeBlock(*block);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_TRUE(back->base());
  EXPECT_EQ(back->rejected(0), 7u);
  EXPECT_EQ(back->rejected(1), 7u);
  EXPECT_EQ(back->keys()[1], 1u);
}

TEST(BlockCodec, CompressesLargePayloadsOnlyWhenSmaller) {
  std::mt19937_64 rng(7);
  auto s = MakeRandomSeries(rng, BlockKind::kEndpoint, 400, 5000, true);
  auto refs = s.Refs();
  auto block = EncodeBlock({BlockKind::kEndpoint, Tier::kMinute, 1, 0}, false, refs);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  auto header = ParseBlockHeader(*block);
  ASSERT_TRUE(header.ok());
  EXPECT_TRUE(header->compressed);
  EXPECT_LT(header->payload_bytes, header->raw_payload_bytes);

  // Incompressible: six series of varints of two bytes or more (values
  // uniform in [128, 16384), so the bytes are close to uniform), each with
  // 3-4 statuses and 4-5 buckets spaced 128+ apart: zstd cannot win.
  auto two_bytes = [&] { return 128 + rng() % (16384 - 128); };
  std::vector<Rollup> noise(6);
  std::vector<KeyedRollup> noisy;
  SeriesKey key = 0;
  for (size_t i = 0; i < noise.size(); ++i) {
    Rollup& r = noise[i];
    for (int j = static_cast<int>(rng() % 2); j < 4; ++j) {
      const uint64_t n = two_bytes();
      r.AddStatus(128 + j * 256 + static_cast<int>(rng() % 100), n);
      r.requests += n;
    }
    for (int j = static_cast<int>(rng() % 2); j < 5; ++j) {
      const uint64_t n = two_bytes();
      r.histogram.AddBucket(128 + j * 256 + static_cast<int>(rng() % 128), n);
      r.latency_count += n;
    }
    r.bytes_in = two_bytes();
    r.bytes_out = two_bytes();
    r.latency_max_us = static_cast<int64_t>(two_bytes());
    r.latency_sum_us = static_cast<uint64_t>(r.latency_max_us) + two_bytes();
    noisy.push_back({key += two_bytes(), &r});
  }
  block = EncodeBlock({BlockKind::kEndpoint, Tier::kMinute, 1, 0}, false, noisy);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  header = ParseBlockHeader(*block);
  ASSERT_TRUE(header.ok());
  EXPECT_GT(header->raw_payload_bytes, kRawPayloadMaxBytes);
  EXPECT_FALSE(header->compressed);
  EXPECT_TRUE(DecodeBlock(*block).ok());
}

// Random blocks of every kind survive encode and decode unchanged, and each
// series reads back as the Rollup::Merge of its inputs.
TEST(BlockCodec, RandomRoundTripsOfEveryKind) {
  std::mt19937_64 rng(42);
  BlockEncoder encoder;
  BlockDecoder decoder;
  DecodedBlock built, decoded;
  for (int round = 0; round < 80; ++round) {
    const BlockKind kind = kAllKinds[round % 4];
    const Tier tier = static_cast<Tier>(rng() % 3);
    const bool unique = round % 3 != 0;
    const size_t count = round % 10 == 0 ? 0 : 1 + rng() % (round % 5 == 0 ? 800 : 60);
    auto s = MakeRandomSeries(rng, kind, count, unique ? 100000 : 40, unique);
    const BlockGroup group{kind, tier, static_cast<int64_t>(rng() % 100000000),
                           static_cast<uint16_t>(rng() % 8)};
    const bool base = rng() % 2;
    auto refs = s.Refs();
    ASSERT_TRUE(BuildBlock(group, base, refs, &built).ok());
    auto bytes = encoder.Encode(built);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    Status st = decoder.Decode(*bytes, group, &decoded);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(decoded == built) << "round " << round;

    const auto sum = s.Summed();
    ASSERT_EQ(decoded.size(), sum.size());
    size_t i = 0;
    for (const auto& [key, rollup] : sum) {
      ASSERT_EQ(decoded.keys()[i], key);
      ASSERT_EQ(decoded.Find(key), i);
      ASSERT_EQ(Normalize(decoded.RollupAt(i)), Normalize(rollup)) << "round " << round;
      ++i;
    }
    // Re-encoding the decoded block gives the same bytes.
    auto again = encoder.Encode(decoded);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *bytes);
  }
}

TEST(DecodedBlock, FindMissesAbsentKeys) {
  Rollup r;
  r.AddRequest(200, 0, 0, 1);
  const KeyedRollup series[] = {{10, &r}, {20, &r}};
  DecodedBlock b;
  ASSERT_TRUE(BuildBlock({BlockKind::kEndpoint, Tier::kMinute, 0, 0}, false, series, &b).ok());
  EXPECT_EQ(b.Find(10), 0u);
  EXPECT_EQ(b.Find(20), 1u);
  EXPECT_FALSE(b.Find(0).has_value());
  EXPECT_FALSE(b.Find(15).has_value());
  EXPECT_FALSE(b.Find(21).has_value());
  EXPECT_GT(b.MemoryBytes(), sizeof(DecodedBlock));
}

TEST(BlockCodec, RefusesSeriesTheFormatCannotHold) {
  const BlockGroup e{BlockKind::kEndpoint, Tier::kMinute, 0, 0};
  auto refuse = [&](const BlockGroup& g, SeriesKey key, const Rollup& r) {
    const KeyedRollup series[] = {{key, &r}};
    auto b = EncodeBlock(g, false, series);
    EXPECT_FALSE(b.ok());
    if (!b.ok()) {
      EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(b.status().message().find("m0.0:e"), std::string::npos) << b.status().message();
    }
    return b.ok() ? std::string() : b.status().message();
  };
  Rollup bad_status;
  bad_status.AddRequest(1000, 0, 0, -1);
  EXPECT_NE(refuse(e, 1, bad_status).find("status code 1000"), std::string::npos);
  Rollup negative_status;
  negative_status.AddRequest(-1, 0, 0, -1);
  refuse(e, 1, negative_status);
  Rollup rejected;
  rejected.rejected = 1;
  EXPECT_NE(refuse(e, 1, rejected).find("rejected"), std::string::npos);
  Rollup ok;
  ok.AddRequest(200, 0, 0, 5);
  EXPECT_NE(refuse(e, kMaxIdKey + 1, ok).find("2^32"), std::string::npos);
  Rollup inconsistent = ok;
  inconsistent.requests = 2;
  EXPECT_NE(refuse(e, 1, inconsistent).find("status counts sum to 1, requests are 2"),
            std::string::npos);
  Rollup no_max = ok;
  no_max.latency_max_us = -1;
  EXPECT_NE(refuse(e, 1, no_max).find("latency max"), std::string::npos);
  Rollup max_over_sum = ok;
  max_over_sum.latency_max_us = 6;
  EXPECT_NE(refuse(e, 1, max_over_sum).find("latency sum 5 below latency max 6"),
            std::string::npos);
  Rollup lost_bucket = ok;
  lost_bucket.latency_count = 2;
  lost_bucket.requests = 2;
  lost_bucket.status_counts[0].second = 2;
  EXPECT_NE(refuse(e, 1, lost_bucket).find("histogram counts sum to 1"), std::string::npos);
  // Equal keys are summed; a sum past 2^64 is refused, not wrapped.
  Rollup big;
  big.requests = uint64_t{1} << 63;
  big.AddStatus(200, big.requests);
  const KeyedRollup twice[] = {{1, &big}, {1, &big}};
  auto b = EncodeBlock(e, false, twice);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("overflow"), std::string::npos);
}

TEST(BlockCodec, DecodeChecksTheGroupItWasReadFrom) {
  Rollup r;
  r.AddRequest(200, 0, 0, 1);
  const KeyedRollup series[] = {{1, &r}};
  const BlockGroup group{BlockKind::kCustomer, Tier::kDay, 20000, 5};
  auto bytes = EncodeBlock(group, false, series);
  ASSERT_TRUE(bytes.ok());
  BlockDecoder decoder;
  DecodedBlock out;
  EXPECT_TRUE(decoder.Decode(*bytes, group, &out).ok());
  for (BlockGroup other : {BlockGroup{BlockKind::kEndpoint, Tier::kDay, 20000, 5},
                           BlockGroup{BlockKind::kCustomer, Tier::kHour, 20000, 5},
                           BlockGroup{BlockKind::kCustomer, Tier::kDay, 20001, 5},
                           BlockGroup{BlockKind::kCustomer, Tier::kDay, 20000, 4}}) {
    Status st = decoder.Decode(*bytes, other, &out);
    EXPECT_FALSE(st.ok());
    EXPECT_TRUE(out.empty());
    EXPECT_NE(st.message().find("d20000.5:c"), std::string::npos) << st.message();
  }
}

TEST(BlockCodec, EmptyBlockRoundTrips) {
  const BlockGroup group{BlockKind::kCustomerEndpoint, Tier::kDay, -3, 7};
  auto bytes = EncodeBlock(group, true, {});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), kBlockHeaderBytes);
  auto back = DecodeBlock(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->empty());
  EXPECT_EQ(back->group(), group);
}

// A block of `count` random series of group.kind, encoded, and its full decode.
struct EncodedRandom {
  std::string bytes;
  DecodedBlock full;
};
EncodedRandom EncodeRandom(uint64_t seed, const BlockGroup& group, size_t count, uint64_t spread,
                           bool base) {
  std::mt19937_64 rng(seed);
  auto s = MakeRandomSeries(rng, group.kind, count, spread, true);
  auto refs = s.Refs();
  auto bytes = EncodeBlock(group, base, refs);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto full = DecodeBlock(bytes.ok() ? *bytes : std::string());
  EXPECT_TRUE(full.ok()) << full.status().ToString();
  return {bytes.ok() ? *bytes : std::string(), full.ok() ? *full : DecodedBlock()};
}

// DecodeRequests reads the same keys and requests as a full decode, and
// DecodeSelected the same series, for every kind, small (raw) and large
// (compressed) blocks, deltas and bases.
TEST(BlockCodec, DecodeRequestsMatchesAFullDecodeOfEveryKind) {
  std::mt19937_64 rng(99);
  BlockDecoder decoder;
  DecodedBlock full;
  std::vector<SeriesKey> keys;
  std::vector<uint64_t> requests;
  for (int round = 0; round < 60; ++round) {
    const BlockKind kind = kAllKinds[round % 4];
    const size_t count = round % 10 == 0 ? 0 : 1 + rng() % (round % 3 == 0 ? 3000 : 40);
    auto s = MakeRandomSeries(rng, kind, count, 100000, true);
    const BlockGroup group{kind, static_cast<Tier>(rng() % 3), 1000 + round,
                           static_cast<uint16_t>(round % 8)};
    auto refs = s.Refs();
    auto bytes = EncodeBlock(group, round % 2 == 0, refs);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    ASSERT_TRUE(decoder.Decode(*bytes, group, &full).ok());
    Status st = decoder.DecodeRequests(*bytes, group, &keys, &requests);
    ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.ToString();
    ASSERT_EQ(keys, std::vector<SeriesKey>(full.keys().begin(), full.keys().end()))
        << "round " << round;
    ASSERT_EQ(requests, std::vector<uint64_t>(full.requests().begin(), full.requests().end()))
        << "round " << round;
    // DecodeSelected of a random subset reads those series as the full decode.
    std::vector<size_t> pick;
    for (size_t i = 0; i < full.size(); ++i) {
      if (rng() % 4 == 0) pick.push_back(i);
    }
    DecodedBlock selected, expected(group, full.base());
    for (size_t i : pick) expected.AppendSeriesFrom(full, i);
    st = decoder.DecodeSelected(
        *bytes, group, [&](const DecodedBlock& all) -> Result<std::vector<size_t>> {
          EXPECT_EQ(all.size(), full.size());
          return pick;
        },
        &selected);
    ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.ToString();
    ASSERT_TRUE(selected == expected) << "round " << round;
  }
}

TEST(BlockCodec, DecodeRequestsRefusesAnotherGroupAndDamagedBytes) {
  const BlockGroup group{BlockKind::kCustomer, Tier::kHour, 500000, 1};
  const EncodedRandom e = EncodeRandom(5, group, 2000, 100000, false);
  const std::string* bytes = &e.bytes;
  BlockDecoder decoder;
  std::vector<SeriesKey> keys;
  std::vector<uint64_t> requests;
  Status st = decoder.DecodeRequests(*bytes, {BlockKind::kCustomer, Tier::kHour, 500000, 2},
                                     &keys, &requests);
  EXPECT_EQ(st.code(), StatusCode::kParseError);
  EXPECT_NE(st.message().find("read from group"), std::string::npos) << st.message();
  EXPECT_TRUE(keys.empty());
  // A flipped byte anywhere in the payload, even far past the two columns.
  std::string bad = *bytes;
  bad[bad.size() - 3] ^= 0x40;
  st = decoder.DecodeRequests(bad, group, &keys, &requests);
  EXPECT_EQ(st.code(), StatusCode::kParseError);
  EXPECT_NE(st.message().find("checksum"), std::string::npos) << st.message();
  EXPECT_TRUE(keys.empty() && requests.empty());
}

// The encoder ends the zstd frame's first block after the requests column,
// so a reader of the two columns decompresses (and reads) little of the
// payload. Without that boundary the first zstd block would hold the whole
// payload (under 128 KB here).
TEST(BlockCodec, KeysAndRequestsAreTheirOwnZstdBlock) {
  const BlockGroup group{BlockKind::kEndpoint, Tier::kHour, 490000, 0};
  const EncodedRandom e = EncodeRandom(11, group, 700, 5000, true);
  const std::string* bytes = &e.bytes;
  const DecodedBlock* full = &e.full;
  auto header = ParseBlockHeader(*bytes);
  ASSERT_TRUE(header.ok());
  ASSERT_TRUE(header->compressed);
  ASSERT_LT(header->raw_payload_bytes, 128u * 1024);
  // The raw bytes of the keys and requests columns.
  std::string lead;
  uint8_t buf[kMaxVarintBytes];
  SeriesKey prev = 0;
  for (SeriesKey k : full->keys()) {
    lead.append(reinterpret_cast<char*>(buf), PutVarint(buf, k - prev) - buf);
    prev = k;
  }
  for (uint64_t r : full->requests()) {
    lead.append(reinterpret_cast<char*>(buf), PutVarint(buf, r) - buf);
  }
  // The frame's first zstd block, decoded alone, is exactly those bytes.
  const std::string_view frame(bytes->data() + kBlockHeaderBytes, header->payload_bytes);
  const size_t first_end = ZstdFirstBlockEnd(frame);
  EXPECT_LT(first_end, frame.size() / 2);
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string out(header->raw_payload_bytes, '\0');
  ZSTD_inBuffer in{frame.data(), first_end, 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  for (size_t r = 1; in.pos < in.size && r != 0;) {
    r = ZSTD_decompressStream(dctx, &o, &in);
    ASSERT_FALSE(ZSTD_isError(r)) << ZSTD_getErrorName(r);
  }
  ZSTD_freeDCtx(dctx);
  out.resize(o.pos);
  EXPECT_EQ(out, lead);
}

TEST(BlockCodec, DecodeSelectedKeepsOnlyThePickedSeries) {
  const BlockGroup group{BlockKind::kCustomerEndpoint, Tier::kDay, 20400, 3};
  const EncodedRandom e = EncodeRandom(3, group, 700, 1000, true);
  const std::string* bytes = &e.bytes;
  const DecodedBlock* full = &e.full;
  BlockDecoder decoder;
  DecodedBlock out;
  const std::vector<size_t> pick = {0, 7, 350, full->size() - 1};
  size_t calls = 0;
  Status st = decoder.DecodeSelected(
      *bytes, group,
      [&](const DecodedBlock& all) -> Result<std::vector<size_t>> {
        ++calls;
        EXPECT_EQ(all.size(), full->size());
        return pick;
      },
      &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(out.group(), group);
  EXPECT_TRUE(out.base());
  ASSERT_EQ(out.size(), pick.size());
  for (size_t k = 0; k < pick.size(); ++k) {
    EXPECT_EQ(out.keys()[k], full->keys()[pick[k]]);
    EXPECT_EQ(Normalize(out.RollupAt(k)), Normalize(full->RollupAt(pick[k])));
  }
  // Nothing picked: an empty block of the group.
  st = decoder.DecodeSelected(
      *bytes, group, [](const DecodedBlock&) { return Result<std::vector<size_t>>(std::vector<size_t>{}); },
      &out);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(out.empty());
  // Indexes out of order or range are the caller's bug; its own error is passed on.
  for (std::vector<size_t> wrong : {std::vector<size_t>{5, 5}, std::vector<size_t>{9, 2},
                                    std::vector<size_t>{full->size()}}) {
    st = decoder.DecodeSelected(
        *bytes, group, [&](const DecodedBlock&) { return Result<std::vector<size_t>>(wrong); },
        &out);
    EXPECT_EQ(st.code(), StatusCode::kInternal);
    EXPECT_TRUE(out.empty());
  }
  st = decoder.DecodeSelected(
      *bytes, group,
      [](const DecodedBlock&) -> Result<std::vector<size_t>> {
        return Status::Unavailable("registry read failed");
      },
      &out);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  // Another group's block is refused before anything is picked.
  calls = 0;
  st = decoder.DecodeSelected(
      *bytes, {BlockKind::kCustomerEndpoint, Tier::kDay, 20400, 4},
      [&](const DecodedBlock&) -> Result<std::vector<size_t>> {
        ++calls;
        return pick;
      },
      &out);
  EXPECT_EQ(st.code(), StatusCode::kParseError);
  EXPECT_EQ(calls, 0u);
}

}  // namespace
}  // namespace apimeter

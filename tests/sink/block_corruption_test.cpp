// Damaged blocks: every single-byte change and every truncation of sample
// blocks is detected; random mutations never crash the decoder (run under
// ASan/UBSan in CI); and mutations that get past the checksums (the test
// re-seals them with valid CRCs) are either rejected by the structural checks
// or decode to a block that is valid and round-trips. Segmented blocks
// (format 3) the same, with mutations inside their directory and segments.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "sink/block_codec.h"
#include "sink/varint.h"
#include "tests/sink/block_test_util.h"

namespace apimeter {
namespace {

using block_test::MakeRandomSeries;

std::string Encode(BlockKind kind, Tier tier, size_t series, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto s = MakeRandomSeries(rng, kind, series, 100000, true);
  auto refs = s.Refs();
  auto bytes = EncodeBlock({kind, tier, 480000, 1}, seed % 2 == 0, refs);
  if (!bytes.ok()) ADD_FAILURE() << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

// A segmented block's segment count (0 when not segmented).
size_t SegmentCount(const std::string& block) {
  auto h = ParseBlockHeader(block);
  if (!h.ok() || !h->segmented) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(block.data()) + kBlockHeaderBytes;
  uint64_t count = 0;
  return ReadVarint(p, p + h->payload_bytes, &count) ? static_cast<size_t>(count) : 0;
}

// The smallest random block of `kind` (series counts in steps of 10) that
// the encoder stores in `segments` segments (kSegmentRawBytes raw each).
std::string SegmentedSample(BlockKind kind, size_t segments, uint64_t seed) {
  for (size_t n = 10; n < 100000; n += 10) {
    std::string b = Encode(kind, Tier::kDay, n, seed);
    if (SegmentCount(b) == segments) return b;
    if (SegmentCount(b) > segments) break;
  }
  ADD_FAILURE() << "no block of " << segments << " segments";
  return std::string();
}

// A minute customer block of three small series: stored raw.
std::string SmallRawBlock() {
  Rollup a, b, c;
  a.AddRequest(200, 310, 5120, 23000);
  b.AddRequest(200, 280, 4100, 19000);
  b.AddRequest(404, 0, 120, -1);
  c.AddRequest(500, 900, 0, 2500000);
  const KeyedRollup series[] = {{17, &a}, {42, &b}, {4000, &c}};
  auto bytes = EncodeBlock({BlockKind::kCustomer, Tier::kMinute, 29400123, 0}, false, series);
  if (!bytes.ok()) ADD_FAILURE() << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

// A raw block, two compressed ones (kinds e and x) and one of kind a.
const std::vector<std::string>& Samples() {
  static const std::vector<std::string> samples = {
      SmallRawBlock(),
      Encode(BlockKind::kEndpoint, Tier::kHour, 12, 2),
      Encode(BlockKind::kCustomerEndpoint, Tier::kDay, 12, 3),
      Encode(BlockKind::kAll, Tier::kMinute, 6, 4),
      // Format 3: two segments.
      SegmentedSample(BlockKind::kCustomer, 2, 8),
  };
  return samples;
}

bool Decodes(BlockDecoder& decoder, const std::string& bytes) {
  DecodedBlock out;
  return decoder.Decode(bytes, &out).ok();
}

TEST(BlockCorruption, SamplesAreRawAndCompressed) {
  int compressed = 0, raw = 0;
  for (const std::string& s : Samples()) {
    auto h = ParseBlockHeader(s);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    (h->compressed ? compressed : raw)++;
    ASSERT_TRUE(DecodeBlock(s).ok());
    RecordProperty("sample_bytes", static_cast<int>(s.size()));
    std::printf("sample: %zu bytes, %s\n", s.size(), h->compressed ? "compressed" : "raw");
  }
  EXPECT_GE(compressed, 2);
  EXPECT_GE(raw, 1);
}

TEST(BlockCorruption, EverySingleByteChangeIsDetected) {
  BlockDecoder decoder;
  for (const std::string& sample : Samples()) {
    size_t undetected = 0;
    std::string copy = sample;
    for (size_t at = 0; at < copy.size(); ++at) {
      for (int v = 0; v < 256; ++v) {
        if (static_cast<char>(v) == sample[at]) continue;
        copy[at] = static_cast<char>(v);
        if (Decodes(decoder, copy)) ++undetected;
      }
      copy[at] = sample[at];
    }
    EXPECT_EQ(undetected, 0u) << "block of " << sample.size() << " bytes";
  }
}

TEST(BlockCorruption, EveryTruncationAndExtensionIsDetected) {
  BlockDecoder decoder;
  for (const std::string& sample : Samples()) {
    for (size_t n = 0; n < sample.size(); ++n) {
      DecodedBlock out;
      Status st = decoder.Decode(std::string_view(sample).substr(0, n), &out);
      ASSERT_FALSE(st.ok()) << n;
      EXPECT_EQ(st.code(), StatusCode::kParseError);
    }
    EXPECT_FALSE(Decodes(decoder, sample + '\0'));
    EXPECT_FALSE(Decodes(decoder, sample + sample));
  }
}

TEST(BlockCorruption, ErrorsSayWhatFailed) {
  const std::string& sample = Samples()[1];
  auto message = [](const std::string& bytes) { return DecodeBlock(bytes).status().message(); };
  EXPECT_NE(message(sample.substr(0, 10)).find("truncated"), std::string::npos);
  std::string bad = sample;
  bad[0] = 'X';
  EXPECT_NE(message(bad).find("magic"), std::string::npos);
  bad = sample;
  bad[12] ^= 1;
  EXPECT_NE(message(bad).find("header checksum"), std::string::npos);
  bad = sample;
  bad[sample.size() - 1] ^= 1;
  EXPECT_NE(message(bad).find("payload checksum"), std::string::npos);
  bad = sample;
  bad[4] = 4;
  EXPECT_NE(message(bad).find("version 4"), std::string::npos);
}

// Applies 1..4 random edits: set a byte, flip a bit, insert, erase.
void Mutate(std::string& s, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 4) {
      case 0:
        if (!s.empty()) s[at] = static_cast<char>(rng());
        break;
      case 1:
        if (!s.empty()) s[at] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 2:
        s.insert(at, 1 + rng() % 3, static_cast<char>(rng()));
        break;
      default:
        if (!s.empty()) s.erase(at, 1 + rng() % 3);
    }
  }
}

TEST(BlockCorruption, RandomMutationsAreDetected) {
  std::mt19937_64 rng(2024);
  BlockDecoder decoder;
  int undetected = 0;
  for (int round = 0; round < 20000; ++round) {
    const std::string& sample = Samples()[round % Samples().size()];
    std::string copy = sample;
    Mutate(copy, rng);
    if (copy == sample) continue;
    if (Decodes(decoder, copy)) ++undetected;
  }
  EXPECT_EQ(undetected, 0);
}

uint32_t Crc(const std::string& s, size_t at, size_t n) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(s.data() + at), static_cast<uInt>(n)));
}

void PutLE32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

// Wraps `payload` (uncompressed) under `header` with valid lengths and CRCs,
// compressed with zstd if `compress`: bytes the checksums cannot catch.
// `header` with the lengths of `stored` (raw: `raw` bytes) and both CRCs set, then `stored`.
std::string SealStored(std::string header, const std::string& stored, size_t raw) {
  PutLE32(header, 24, static_cast<uint32_t>(stored.size()));
  PutLE32(header, 28, static_cast<uint32_t>(raw));
  PutLE32(header, 32, Crc(stored, 0, stored.size()));
  PutLE32(header, 36, Crc(header, 0, 36));
  return header + stored;
}

std::string Seal(std::string header, const std::string& payload, bool compress) {
  std::string stored = payload;
  if (compress) {
    stored.resize(ZSTD_compressBound(payload.size()));
    stored.resize(ZSTD_compress(stored.data(), stored.size(), payload.data(), payload.size(), 1));
  }
  header[7] = static_cast<char>((header[7] & ~1) | (compress ? 1 : 0));
  return SealStored(std::move(header), stored, payload.size());
}

std::string RawPayload(const std::string& block) {
  auto h = ParseBlockHeader(block);
  std::string stored = block.substr(kBlockHeaderBytes);
  if (!h->compressed) return stored;
  std::string raw(h->raw_payload_bytes, '\0');
  raw.resize(ZSTD_decompress(raw.data(), raw.size(), stored.data(), stored.size()));
  return raw;
}

// Runs every reader on `sealed` (under ASan: in bounds) and returns whether
// the full decode accepted it. Then the partial readers read what it holds
// (keys, requests, every other series) and the block round-trips; else the
// decode is a parse error that leaves nothing half-read.
bool ReadersAgree(BlockDecoder& decoder, const std::string& sealed) {
  auto header = ParseBlockHeader(sealed);
  const BlockGroup group = header.ok() ? header->group : BlockGroup{};
  std::vector<SeriesKey> keys;
  std::vector<uint64_t> requests;
  const Status requests_st = decoder.DecodeRequests(sealed, group, &keys, &requests);
  if (requests_st.ok()) {
    EXPECT_EQ(keys.size(), requests.size());
    for (size_t i = 1; i < keys.size(); ++i) EXPECT_LT(keys[i - 1], keys[i]);
  } else {
    EXPECT_TRUE(keys.empty() && requests.empty());
  }
  DecodedBlock every_other;
  const Status selected_st = decoder.DecodeSelected(
      sealed, group,
      [](const DecodedBlock& all) -> Result<std::vector<size_t>> {
        std::vector<size_t> rows;
        for (size_t i = 0; i < all.size(); i += 2) rows.push_back(i);
        return rows;
      },
      &every_other);
  DecodedBlock out;
  const Status st = decoder.Decode(sealed, &out);
  if (!st.ok()) {
    EXPECT_EQ(st.code(), StatusCode::kParseError);
    EXPECT_TRUE(out.empty());  // nothing half-read is left behind
    return false;
  }
  EXPECT_TRUE(requests_st.ok()) << requests_st.ToString();
  EXPECT_EQ(keys, std::vector<SeriesKey>(out.keys().begin(), out.keys().end()));
  EXPECT_EQ(requests, std::vector<uint64_t>(out.requests().begin(), out.requests().end()));
  EXPECT_TRUE(selected_st.ok()) << selected_st.ToString();
  DecodedBlock expected(out.group(), out.base());
  if (out.has_seen()) expected.EnableSeen();
  for (size_t i = 0; i < out.size(); i += 2) expected.AppendSeriesFrom(out, i);
  EXPECT_TRUE(every_other == expected);
  EXPECT_TRUE(out.Validate().ok());
  auto again = EncodeBlock(out);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  auto back = DecodeBlock(again.ok() ? *again : std::string());
  EXPECT_TRUE(back.ok() && *back == out);
  return true;
}

TEST(BlockCorruption, ResealedMutationsAreRejectedOrValid) {
  std::mt19937_64 rng(77);
  BlockDecoder decoder;
  int rejected = 0, accepted = 0;
  for (int round = 0; round < 10000; ++round) {
    const std::string& sample = Samples()[round % Samples().size()];
    std::string header = sample.substr(0, kBlockHeaderBytes);
    std::string payload = RawPayload(sample);
    if (round % 5 == 0) {
      // Header fields other than lengths and CRCs (kind, tier, flags, series...).
      const size_t at = 4 + rng() % 20;
      header[at] = static_cast<char>(rng() % 3 == 0 ? rng() : header[at] ^ (1 << (rng() % 8)));
    } else {
      Mutate(payload, rng);
    }
    const std::string sealed = Seal(header, payload, round % 2 == 0);
    ++(ReadersAgree(decoder, sealed) ? accepted : rejected);
    if (HasFailure()) return;
  }
  // Most damage breaks a structural check; the rest is a different valid block.
  EXPECT_GT(rejected, 2 * accepted);
  RecordProperty("accepted", accepted);
  std::printf("resealed mutations: %d rejected, %d accepted\n", rejected, accepted);
}

// Blocks written before the encoder ended the first zstd block after the
// keys and requests (one zstd block of up to 128 KB for the whole start of
// the payload): DecodeRequests streams on until it has both columns, and
// DecodeSelected reads them like any other.
TEST(BlockCorruption, PartialReadersReadBlocksCompressedInOnePiece) {
  // Format 2 (large customer-kind blocks are format 3 now; the old ones
  // were format 2 like this endpoint block).
  for (size_t series : {size_t{40}, size_t{30000}}) {
    const std::string sample = Encode(BlockKind::kEndpoint, Tier::kDay, series, 6);
    // The same payload, compressed in one call (no block boundary after the
    // requests column): sealed as a valid block.
    const std::string old_style =
        Seal(sample.substr(0, kBlockHeaderBytes), RawPayload(sample), true);
    auto h = ParseBlockHeader(old_style);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    auto full = DecodeBlock(old_style);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    BlockDecoder decoder;
    std::vector<SeriesKey> keys;
    std::vector<uint64_t> requests;
    Status st = decoder.DecodeRequests(old_style, h->group, &keys, &requests);
    ASSERT_TRUE(st.ok()) << series << ": " << st.ToString();
    EXPECT_EQ(keys, std::vector<SeriesKey>(full->keys().begin(), full->keys().end()));
    EXPECT_EQ(requests, std::vector<uint64_t>(full->requests().begin(), full->requests().end()));
    DecodedBlock last;
    st = decoder.DecodeSelected(
        old_style, h->group,
        [](const DecodedBlock& all) {
          return Result<std::vector<size_t>>(std::vector<size_t>{all.size() - 1});
        },
        &last);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last.CountersAt(0), full->CountersAt(full->size() - 1));
  }
}

// A segmented block taken apart: its segments' format-2 payloads (raw),
// and their series counts into *series.
std::vector<std::string> SegmentPayloads(const std::string& block, std::vector<uint64_t>* series) {
  auto h = ParseBlockHeader(block);
  EXPECT_TRUE(h.ok() && h->segmented);
  const auto* p = reinterpret_cast<const uint8_t*>(block.data()) + kBlockHeaderBytes;
  const uint8_t* end = p + h->payload_bytes;
  auto varint = [&] {
    uint64_t v = 0;
    EXPECT_TRUE(ReadVarint(p, end, &v));
    return v;
  };
  std::vector<uint64_t> stored, raw;
  const uint64_t count = varint();
  series->clear();
  for (uint64_t i = 0; i < count; ++i) {
    series->push_back(varint());
    stored.push_back(varint());
    raw.push_back(varint());
  }
  std::vector<std::string> out;
  for (uint64_t i = 0; i < count; ++i) {
    std::string seg(reinterpret_cast<const char*>(p), stored[i]);
    p += stored[i];
    if (stored[i] < raw[i]) {
      std::string plain(raw[i], '\0');
      plain.resize(ZSTD_decompress(plain.data(), plain.size(), seg.data(), seg.size()));
      seg = plain;
    }
    out.push_back(seg);
  }
  return out;
}

std::string PutVarintString(uint64_t v) {
  uint8_t buf[kMaxVarintBytes];
  return std::string(reinterpret_cast<char*>(buf), PutVarint(buf, v) - buf);
}

// Seals segments (raw format-2 payloads, `series` each) under `header` as a
// format-3 block with a valid directory, lengths and CRCs; each segment
// zstd-compressed if `compress` (and smaller).
std::string SealSegmented(std::string header, const std::vector<std::string>& segments,
                          const std::vector<uint64_t>& series, bool compress) {
  std::string directory = PutVarintString(segments.size()), body;
  for (size_t i = 0; i < segments.size(); ++i) {
    std::string stored = segments[i];
    if (compress && !stored.empty()) {
      std::string z(ZSTD_compressBound(stored.size()), '\0');
      z.resize(ZSTD_compress(z.data(), z.size(), stored.data(), stored.size(), 1));
      if (z.size() < stored.size()) stored = z;
    }
    directory += PutVarintString(series[i]) + PutVarintString(stored.size()) +
                 PutVarintString(segments[i].size());
    body += stored;
  }
  const std::string payload = directory + body;
  return SealStored(std::move(header), payload, payload.size());
}

TEST(BlockCorruption, ResealedSegmentedMutationsAreRejectedOrValid) {
  std::mt19937_64 rng(91);
  const std::string sample = SegmentedSample(BlockKind::kCustomerEndpoint, 4, 9);
  auto h = ParseBlockHeader(sample);
  ASSERT_TRUE(h.ok() && h->segmented && h->version == 3);
  std::vector<uint64_t> series;
  const std::vector<std::string> segments = SegmentPayloads(sample, &series);
  ASSERT_EQ(segments.size(), 4u);
  // Unchanged, resealed: the same block.
  auto same = DecodeBlock(SealSegmented(sample.substr(0, kBlockHeaderBytes), segments, series, true));
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  ASSERT_TRUE(*same == *DecodeBlock(sample));
  BlockDecoder decoder;
  int rejected = 0, accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::string> segs = segments;
    std::vector<uint64_t> counts = series;
    switch (round % 4) {
      case 0:  // the directory's series counts
        counts[rng() % counts.size()] += rng() % 2 == 0 ? 1 : -1;
        break;
      case 1:  // a segment dropped or two swapped
        if (rng() % 2 == 0) {
          const size_t at = rng() % segs.size();
          segs.erase(segs.begin() + static_cast<std::ptrdiff_t>(at));
          counts.erase(counts.begin() + static_cast<std::ptrdiff_t>(at));
        } else {
          const size_t with = 1 + rng() % 3;
          std::swap(segs[0], segs[with]);
          std::swap(counts[0], counts[with]);
        }
        break;
      default:  // bytes inside a segment
        Mutate(segs[rng() % segs.size()], rng);
    }
    const std::string sealed =
        SealSegmented(sample.substr(0, kBlockHeaderBytes), segs, counts, round % 2 == 0);
    ++(ReadersAgree(decoder, sealed) ? accepted : rejected);
    if (HasFailure()) return;
  }
  EXPECT_GT(rejected, 2 * accepted);
  std::printf("resealed segmented mutations: %d rejected, %d accepted\n", rejected, accepted);
}

// A reader of a few series decompresses only their segments (and the first
// zstd block, keys and requests, of the others).
TEST(BlockCorruption, SelectedReadsDecompressOnlyThePickedSegments) {
  const std::string sample = SegmentedSample(BlockKind::kCustomer, 4, 10);
  std::vector<uint64_t> series;
  ASSERT_EQ(SegmentPayloads(sample, &series).size(), 4u);
  ASSERT_GT(series[0], 8u);
  BlockDecoder decoder;
  DecodedBlock full, out;
  ASSERT_TRUE(decoder.Decode(sample, &full).ok());
  const uint64_t whole = decoder.decompressed_bytes();
  const std::vector<size_t> pick = {3, 7};  // segment 0
  ASSERT_TRUE(decoder
                  .DecodeSelected(
                      sample, full.group(),
                      [&](const DecodedBlock&) { return Result<std::vector<size_t>>(pick); }, &out)
                  .ok());
  const uint64_t selected = decoder.decompressed_bytes() - whole;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.CountersAt(0), full.CountersAt(3));
  EXPECT_EQ(out.CountersAt(1), full.CountersAt(7));
  std::printf("decompressed: whole %llu bytes, two series of segment 0 %llu\n",
              static_cast<unsigned long long>(whole), static_cast<unsigned long long>(selected));
  // Segment 0 whole (about a quarter) plus the other three's keys and requests.
  EXPECT_LT(selected, whole / 2);
  EXPECT_GT(selected, whole / 4);
}

}  // namespace
}  // namespace apimeter

#include "sink/block_codec.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "aggregator/latency_histogram.h"
#include "sink/varint.h"

namespace apimeter {
namespace {

// Header layout (docs/storage-v2.md): byte offsets of the fields.
constexpr size_t kMagicAt = 0, kVersionAt = 4, kKindAt = 5, kTierAt = 6, kFlagsAt = 7,
                 kBucketAt = 8, kShardAt = 16, kReservedAt = 18, kSeriesAt = 20,
                 kPayloadBytesAt = 24, kRawBytesAt = 28, kPayloadCrcAt = 32, kHeaderCrcAt = 36;
constexpr char kMagic[4] = {'A', 'M', 'B', '2'};
// kFlagSeen (format version 2 on): the payload ends with the seen columns.
// kFlagSegmented (format version 3, always set there): a directory, then
// segments, each a format-2 payload; the payload itself is not compressed.
constexpr uint8_t kFlagCompressed = 1, kFlagBase = 2, kFlagSeen = 4, kFlagSegmented = 8;

// The decoder drops a scratch buffer larger than this after use, so one huge
// block does not pin its size for the life of the thread.
constexpr size_t kKeepScratchBytes = size_t{4} << 20;

uint32_t Crc32(const void* data, size_t n) {
  return static_cast<uint32_t>(crc32(0L, static_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

}  // namespace

size_t ZstdFirstBlockEnd(std::string_view frame) {
  // RFC 8878: magic, frame header descriptor, window descriptor unless
  // single segment, dictionary id, content size; then 3-byte block headers.
  const auto* f = reinterpret_cast<const uint8_t*>(frame.data());
  if (frame.size() < 5) return frame.size();
  const uint8_t fhd = f[4];
  const bool single = (fhd >> 5) & 1;
  static constexpr size_t kDictBytes[] = {0, 1, 2, 4};
  const size_t fcs_flag = fhd >> 6;
  const size_t fcs = fcs_flag == 0 ? (single ? 1 : 0) : size_t{1} << fcs_flag;
  const size_t header = 5 + (single ? 0 : 1) + kDictBytes[fhd & 3] + fcs;
  if (frame.size() < header + 3) return frame.size();
  const uint32_t block = f[header] | uint32_t{f[header + 1]} << 8 | uint32_t{f[header + 2]} << 16;
  const uint32_t type = (block >> 1) & 3, size = block >> 3;
  if (type == 3) return frame.size();  // reserved: let the decoder say so
  return std::min(frame.size(), header + 3 + (type == 1 ? 1 : size_t{size}));
}

namespace {

void Put16(uint8_t* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t GetLE(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

constexpr const char* kBadVarint = "truncated or over-long varint";

Status Damaged(const std::string& what) { return Status::ParseError("block: " + what); }

// Fewest payload bytes one series takes: its key (two varints for kind x),
// six counter columns, rejected (kind a), and the status and bucket counts.
size_t MinSeriesBytes(BlockKind kind) {
  return kind == BlockKind::kAll || IsPairKind(kind) ? 10 : 9;
}

// The statuses (or histograms) of n series: every series' list length, then
// every id delta (ids restart from 0 per series), then every count.
// Format 2 leaves out what the series' total implies (docs/storage-v2.md
// "Block format"): the count of a one-entry list (it is the total), and a
// list that is exactly {implied id: total} (written as length 0; only the
// histogram has an implied id, the bucket of the latency max).
template <typename Ids, typename Counts, typename Implied>
uint8_t* PutPairLists(uint8_t* p, size_t n, Ids ids_of, Counts counts_of, Implied implied_id) {
  auto implied = [&](size_t i) {
    const auto ids = ids_of(i);
    return ids.size() == 1 && implied_id(i) == ids[0];
  };
  for (size_t i = 0; i < n; ++i) p = PutVarint(p, implied(i) ? 0 : ids_of(i).size());
  for (size_t i = 0; i < n; ++i) {
    if (implied(i)) continue;
    uint16_t prev = 0;
    for (uint16_t id : ids_of(i)) {
      p = PutVarint(p, id - prev);
      prev = id;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (ids_of(i).size() == 1) continue;
    for (uint64_t count : counts_of(i)) p = PutVarint(p, count);
  }
  return p;
}

// Reads what PutPairLists wrote (format 1: every list and count written;
// format 2: implied ones left out), advancing p: lengths into offsets (n + 1
// prefix sums), ids (each at most max_id) and counts. `totals` are the
// series' totals (requests or latency count), already read; `implied_id(i)`
// the id a length-0 list with a non-zero total stands for (a negative value:
// none, and the list stays empty).
template <typename Implied>
Status ReadPairLists(const uint8_t*& cursor, const uint8_t* end, uint32_t n, uint64_t max_id,
                     const char* name, uint8_t version, const uint64_t* totals,
                     Implied implied_id, block_internal::Column<uint32_t>* offsets,
                     block_internal::Column<uint16_t>* ids,
                     block_internal::Column<uint64_t>* counts, const BlockGroup& group) {
  auto fail = [&](size_t i, const std::string& what) {
    return Status::ParseError("block " + DescribeGroup(group) + ": " + name + " of series " +
                              std::to_string(i) + ": " + what);
  };
  const bool v2 = version >= 2;
  const uint8_t* p = cursor;  // a local, so it stays in a register
  offsets->resize(n + 1);
  uint32_t* at = offsets->data();
  at[0] = 0;
  // Every written entry takes a byte at least (format 1: two, its id delta
  // and its count); an implied entry is one per series at most.
  uint64_t total = 0;
  const uint64_t room = static_cast<uint64_t>(end - p) / (v2 ? 1 : 2) + (v2 ? n : 0);
  std::vector<int> implied(v2 ? n : 0, -1);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t k;
    if (!ReadVarint(p, end, &k)) return fail(i, kBadVarint);
    if (v2 && k == 0 && totals[i] != 0) {
      const int id = implied_id(i);
      if (id >= 0) {
        implied[i] = id;
        k = 1;
      }
    }
    if (k > max_id + 1 || k > room - total) {
      return fail(i, std::to_string(k) + " entries cannot fit");
    }
    total += k;
    at[i + 1] = static_cast<uint32_t>(total);
  }
  ids->resize(total);
  uint16_t* id = ids->data();
  for (uint32_t i = 0; i < n; ++i) {
    if (v2 && implied[i] >= 0) {
      id[at[i]] = static_cast<uint16_t>(implied[i]);
      continue;
    }
    uint64_t value = 0;
    for (uint32_t j = at[i]; j < at[i + 1]; ++j) {
      uint64_t delta;
      if (!ReadVarint(p, end, &delta)) return fail(i, kBadVarint);
      if (delta > max_id - value) return fail(i, "id above " + std::to_string(max_id));
      value += delta;
      id[j] = static_cast<uint16_t>(value);
    }
  }
  counts->resize(total);
  uint64_t* count = counts->data();
  for (uint32_t i = 0; i < n; ++i) {
    if (v2 && at[i + 1] - at[i] == 1) {
      count[at[i]] = totals[i];
      continue;
    }
    for (uint32_t j = at[i]; j < at[i + 1]; ++j) {
      if (!ReadVarint(p, end, &count[j])) return fail(i, kBadVarint);
    }
  }
  cursor = p;
  return Status::Ok();
}

// Format 2: the largest of 1000, 100, 10, 1 µs that divides every latency
// max and sum of the block (nginx logs latencies in ms, so usually 1000).
// The latency unit of series [first, last) of b.
uint64_t LatencyUnit(const DecodedBlock& b, size_t first, size_t last) {
  uint64_t unit = 1000;
  const auto max = b.latency_max_us();
  const auto sum = b.latency_sum_us();
  for (size_t i = first; i < last && unit > 1; ++i) {
    while (unit > 1 && ((max[i] > 0 && static_cast<uint64_t>(max[i]) % unit != 0) ||
                        sum[i] % unit != 0)) {
      unit /= 10;
    }
  }
  return unit;
}

}  // namespace

Result<BlockHeader> ParseBlockHeader(std::string_view block) {
  if (block.size() < kBlockHeaderBytes) {
    return Damaged("truncated: " + std::to_string(block.size()) + " bytes, the header alone is " +
                   std::to_string(kBlockHeaderBytes));
  }
  const auto* h = reinterpret_cast<const uint8_t*>(block.data());
  if (std::memcmp(h + kMagicAt, kMagic, sizeof(kMagic)) != 0) return Damaged("bad magic");
  const uint8_t version = h[kVersionAt];
  if (version < kOldestBlockFormatVersion || version > kBlockFormatVersion) {
    return Damaged("format version " + std::to_string(version) + " (this binary reads " +
                   std::to_string(kOldestBlockFormatVersion) + " to " +
                   std::to_string(kBlockFormatVersion) + ")");
  }
  BlockHeader out;
  out.version = h[kVersionAt];
  out.header_crc = static_cast<uint32_t>(GetLE(h + kHeaderCrcAt, 4));
  if (Crc32(h, kHeaderCrcAt) != out.header_crc) return Damaged("header checksum mismatch");
  const auto kind = BlockKindFromLetter(static_cast<char>(h[kKindAt]));
  if (!kind) return Damaged("unknown kind byte " + std::to_string(h[kKindAt]));
  const auto tier = TierFromLetter(static_cast<char>(h[kTierAt]));
  if (!tier) return Damaged("unknown tier byte " + std::to_string(h[kTierAt]));
  const uint8_t flags = h[kFlagsAt];
  const uint8_t known = version == 3 ? kFlagSegmented | kFlagBase | kFlagSeen
                                     : kFlagCompressed | kFlagBase | (version >= 2 ? kFlagSeen : 0);
  if ((flags & ~known) != 0) {
    return Damaged("unknown flags " + std::to_string(flags) + " for format version " +
                   std::to_string(version));
  }
  if (version == 3 && (flags & kFlagSegmented) == 0) {
    return Damaged("format version 3 without the segmented flag");
  }
  if (GetLE(h + kReservedAt, 2) != 0) return Damaged("reserved bytes not zero");
  out.group.kind = *kind;
  out.group.tier = *tier;
  out.group.bucket = static_cast<int64_t>(GetLE(h + kBucketAt, 8));
  out.group.shard = static_cast<uint16_t>(GetLE(h + kShardAt, 2));
  out.compressed = (flags & kFlagCompressed) != 0;
  out.base = (flags & kFlagBase) != 0;
  out.seen = (flags & kFlagSeen) != 0;
  out.segmented = (flags & kFlagSegmented) != 0;
  out.series = static_cast<uint32_t>(GetLE(h + kSeriesAt, 4));
  out.payload_bytes = static_cast<uint32_t>(GetLE(h + kPayloadBytesAt, 4));
  out.raw_payload_bytes = static_cast<uint32_t>(GetLE(h + kRawBytesAt, 4));
  out.payload_crc = static_cast<uint32_t>(GetLE(h + kPayloadCrcAt, 4));
  const size_t have = block.size() - kBlockHeaderBytes;
  if (have != out.payload_bytes) {
    return Damaged((have < out.payload_bytes ? "truncated: " : "trailing bytes: ") +
                   std::to_string(have) + " payload bytes, the header says " +
                   std::to_string(out.payload_bytes));
  }
  if (out.raw_payload_bytes > kMaxBlockPayloadBytes) {
    return Damaged("uncompressed payload of " + std::to_string(out.raw_payload_bytes) +
                   " bytes is over the limit of " + std::to_string(kMaxBlockPayloadBytes));
  }
  if (!out.compressed && out.raw_payload_bytes != out.payload_bytes) {
    return Damaged("raw payload of " + std::to_string(out.payload_bytes) +
                   " bytes, the header says " + std::to_string(out.raw_payload_bytes));
  }
  return out;
}

// ---- encoding ----

namespace {
Status TooLarge(const DecodedBlock& block, size_t bytes) {
  return Status::ResourceExhausted("block " + DescribeGroup(block.group()) + ": payload of " +
                                   std::to_string(bytes) + " bytes or more is over the limit of " +
                                   std::to_string(kMaxBlockPayloadBytes));
}
}  // namespace

uint8_t* BlockEncoder::Buffer::Ensure(size_t n) {
  if (n > capacity) {
    data.reset(new uint8_t[n]);
    capacity = n;
  }
  return data.get();
}

BlockEncoder::BlockEncoder() : cctx_(ZSTD_createCCtx()) {
  if (cctx_ == nullptr) throw std::bad_alloc();
}
BlockEncoder::~BlockEncoder() { ZSTD_freeCCtx(cctx_); }

size_t BlockEncoder::WritePayload(const DecodedBlock& b, size_t first, size_t last) {
  const size_t n = last - first;
  // Per series at most: two key varints, seven counters, two list lengths,
  // two seen minutes; the latency unit. (The whole block's statuses and
  // buckets bound a range's.)
  const size_t bound = n * 13 * kMaxVarintBytes +
                       (b.total_statuses() + b.total_buckets()) * 2 * kMaxVarintBytes + 1;
  uint8_t* const start = raw_.Ensure(bound);
  uint8_t* p = start;
  const auto keys = b.keys().subspan(first, n);
  if (IsPairKind(b.group().kind)) {
    uint32_t prev_c = 0, prev_e = 0;
    for (SeriesKey key : keys) {
      const uint32_t c = PairCustomer(key), e = PairEndpoint(key);
      p = PutVarint(p, c - prev_c);
      p = PutVarint(p, c == prev_c ? e - prev_e : e);
      prev_c = c;
      prev_e = e;
    }
  } else {
    SeriesKey prev = 0;
    for (SeriesKey key : keys) {
      p = PutVarint(p, key - prev);
      prev = key;
    }
  }
  for (uint64_t v : b.requests().subspan(first, n)) p = PutVarint(p, v);
  lead_bytes_ = static_cast<size_t>(p - start);
  for (auto column : {b.bytes_in(), b.bytes_out(), b.latency_count()}) {
    for (uint64_t v : column.subspan(first, n)) p = PutVarint(p, v);
  }
  // The latency unit (format 2; not in a block with no series): its
  // exponent, then max and sum in it.
  const uint64_t unit = LatencyUnit(b, first, last);
  if (n > 0) p = PutVarint(p, unit == 1000 ? 3 : unit == 100 ? 2 : unit == 10 ? 1 : 0);
  // Latency max + 1 (so that -1, none, is 0), then latency sum - max (the
  // sum of a single request is its max: 0, one byte).
  const auto max = b.latency_max_us().subspan(first, n);
  for (int64_t m : max) p = PutVarint(p, m < 0 ? 0 : static_cast<uint64_t>(m) / unit + 1);
  const auto sum = b.latency_sum_us().subspan(first, n);
  for (size_t i = 0; i < n; ++i) {
    p = PutVarint(p, (sum[i] - (max[i] < 0 ? 0 : static_cast<uint64_t>(max[i]))) / unit);
  }
  if (b.group().kind == BlockKind::kAll) {
    for (size_t i = first; i < last; ++i) p = PutVarint(p, b.rejected(i));
  }
  p = PutPairLists(
      p, n, [&](size_t i) { return b.StatusCodes(first + i); },
      [&](size_t i) { return b.StatusCounts(first + i); }, [](size_t) { return -1; });
  p = PutPairLists(
      p, n, [&](size_t i) { return b.BucketIndexes(first + i); },
      [&](size_t i) { return b.BucketCounts(first + i); },
      [&](size_t i) { return max[i] < 0 ? -1 : LatencyHistogram::BucketIndex(max[i]); });
  if (b.has_seen()) {
    // First seen + 1 (0: unknown), then last - first (0 when unknown).
    for (size_t i = first; i < last; ++i) {
      p = PutVarint(p, b.seen_first(i) == kSeenUnknown ? 0 : uint64_t{b.seen_first(i)} + 1);
    }
    for (size_t i = first; i < last; ++i) {
      p = PutVarint(p, b.seen_first(i) == kSeenUnknown ? 0 : b.seen_last(i) - b.seen_first(i));
    }
  }
  return static_cast<size_t>(p - start);
}

Status BlockEncoder::Compress(const uint8_t* raw, size_t size, int level, uint8_t* dst,
                              size_t capacity, size_t* got) {
  auto failed = [](size_t r) {
    return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
  };
  size_t r = ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setPledgedSrcSize(cctx_, size);
  if (ZSTD_isError(r)) return failed(r);
  ZSTD_outBuffer out{dst, capacity, 0};
  const size_t lead = std::min(lead_bytes_, size);
  ZSTD_inBuffer first{raw, lead, 0};
  do {
    r = ZSTD_compressStream2(cctx_, &out, &first, ZSTD_e_flush);
    if (ZSTD_isError(r)) return failed(r);
  } while (r != 0);
  ZSTD_inBuffer rest{raw + lead, size - lead, 0};
  do {
    r = ZSTD_compressStream2(cctx_, &out, &rest, ZSTD_e_end);
    if (ZSTD_isError(r)) return failed(r);
  } while (r != 0);
  *got = out.pos;
  return Status::Ok();
}

bool SegmentableKind(BlockKind kind) {
  switch (kind) {
    case BlockKind::kCustomer:
    case BlockKind::kCustomerEndpoint:
    case BlockKind::kClientEndpoint:
    case BlockKind::kCustomerClient:
      return true;
    case BlockKind::kAll:
    case BlockKind::kEndpoint:
    case BlockKind::kClient:
      return false;  // bounded kinds: read whole, and cached whole
  }
  return false;
}

Result<std::string> BlockEncoder::Encode(const DecodedBlock& block) {
  if (Status st = block.Validate(); !st.ok()) return Status::InvalidArgument(st.message());
  // Every series takes 9 bytes at least: refuse before sizing a buffer.
  if (block.size() > kMaxBlockPayloadBytes / 9) return TooLarge(block, block.size() * 9);
  const size_t raw = WritePayload(block, 0, block.size());
  if (raw > kMaxBlockPayloadBytes) return TooLarge(block, raw);
  if (SegmentableKind(block.group().kind) && raw > kSegmentRawBytes && block.size() > 1) {
    const size_t segments = std::min(block.size(), (raw + kSegmentRawBytes - 1) / kSegmentRawBytes);
    return EncodeSegmented(block, segments);
  }
  const uint8_t* payload = raw_.data.get();
  size_t stored = raw;
  bool compressed = false;
  if (raw > kRawPayloadMaxBytes) {
    // One frame; its first zstd block ends where the requests column does
    // (ZSTD_e_flush), so BlockDecoder::DecodeRequests decompresses only it.
    const size_t bound = ZSTD_compressBound(raw) + 64;  // + the extra block's header
    uint8_t* dst = packed_.Ensure(bound);
    const int level = block.base() ? kBaseZstdLevel : kDeltaZstdLevel;
    size_t got = 0;
    if (Status st = Compress(payload, raw, level, dst, bound, &got); !st.ok()) return st;
    if (got < raw) {
      payload = dst;
      stored = got;
      compressed = true;
    }
  }
  return Frame(block, 2, compressed ? kFlagCompressed : 0, payload, stored, raw);
}

Result<std::string> BlockEncoder::EncodeSegmented(const DecodedBlock& block, size_t count) {
  const size_t n = block.size();
  const size_t per = (n + count - 1) / count;
  count = (n + per - 1) / per;
  // The directory: the segment count, then per segment its series, stored
  // bytes and raw bytes (varints); then the segments, in key order.
  std::string directory, segments;
  uint8_t varint[kMaxVarintBytes];
  auto put = [&](std::string* into, uint64_t v) {
    into->append(reinterpret_cast<const char*>(varint),
                 static_cast<size_t>(PutVarint(varint, v) - varint));
  };
  put(&directory, count);
  size_t total_raw = 0;
  const int level = block.base() ? kBaseZstdLevel : kDeltaZstdLevel;
  for (size_t first = 0; first < n; first += per) {
    const size_t last = std::min(n, first + per);
    const size_t raw = WritePayload(block, first, last);
    total_raw += raw;
    if (total_raw > kMaxBlockPayloadBytes) return TooLarge(block, total_raw);
    const uint8_t* payload = raw_.data.get();
    size_t stored = raw;
    if (raw > kRawPayloadMaxBytes) {
      const size_t bound = ZSTD_compressBound(raw) + 64;
      uint8_t* dst = packed_.Ensure(bound);
      size_t got = 0;
      if (Status st = Compress(payload, raw, level, dst, bound, &got); !st.ok()) return st;
      if (got < raw) {
        payload = dst;
        stored = got;
      }
    }
    put(&directory, last - first);
    put(&directory, stored);
    put(&directory, raw);
    segments.append(reinterpret_cast<const char*>(payload), stored);
  }
  const size_t stored = directory.size() + segments.size();
  if (stored > kMaxBlockPayloadBytes) return TooLarge(block, stored);
  directory += segments;
  return Frame(block, 3, kFlagSegmented, reinterpret_cast<const uint8_t*>(directory.data()),
               stored, stored);
}

std::string BlockEncoder::Frame(const DecodedBlock& block, uint8_t version, uint8_t flags,
                                const uint8_t* payload, size_t stored, size_t raw) {
  std::string out(kBlockHeaderBytes + stored, '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(h + kMagicAt, kMagic, sizeof(kMagic));
  h[kVersionAt] = version;
  h[kKindAt] = static_cast<uint8_t>(BlockKindLetter(block.group().kind));
  h[kTierAt] = static_cast<uint8_t>(TierLetter(block.group().tier));
  h[kFlagsAt] = flags | (block.base() ? kFlagBase : 0) | (block.has_seen() ? kFlagSeen : 0);
  Put64(h + kBucketAt, static_cast<uint64_t>(block.group().bucket));
  Put16(h + kShardAt, block.group().shard);
  Put32(h + kSeriesAt, static_cast<uint32_t>(block.size()));
  Put32(h + kPayloadBytesAt, static_cast<uint32_t>(stored));
  Put32(h + kRawBytesAt, static_cast<uint32_t>(raw));
  Put32(h + kPayloadCrcAt, Crc32(payload, stored));
  Put32(h + kHeaderCrcAt, Crc32(h, kHeaderCrcAt));
  if (stored > 0) std::memcpy(h + kBlockHeaderBytes, payload, stored);
  return out;
}

Result<std::string> BlockEncoder::Encode(const BlockGroup& group, bool base,
                                         std::span<const KeyedRollup> series) {
  APIMETER_RETURN_IF_ERROR(BuildBlock(group, base, series, &built_));
  return Encode(built_);
}

// ---- decoding ----

BlockDecoder::BlockDecoder() : dctx_(ZSTD_createDCtx()) {
  if (dctx_ == nullptr) throw std::bad_alloc();
}
BlockDecoder::~BlockDecoder() { ZSTD_freeDCtx(dctx_); }

Status BlockDecoder::CheckPayload(std::string_view block, const BlockHeader& h) {
  const auto* payload = reinterpret_cast<const uint8_t*>(block.data()) + kBlockHeaderBytes;
  if (Crc32(payload, h.payload_bytes) != h.payload_crc) {
    return Damaged("payload checksum mismatch");
  }
  if (!h.compressed) return Status::Ok();
  const unsigned long long declared = ZSTD_getFrameContentSize(payload, h.payload_bytes);
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Damaged("payload is not a zstd frame");
  if (declared != h.raw_payload_bytes) {
    return Damaged("zstd frame declares " + std::to_string(declared) +
                   " bytes, the header says " + std::to_string(h.raw_payload_bytes));
  }
  const size_t frame = ZSTD_findFrameCompressedSize(payload, h.payload_bytes);
  if (ZSTD_isError(frame) || frame != h.payload_bytes) {
    return Damaged("zstd frame does not span the payload exactly");
  }
  if (h.raw_payload_bytes + 1 > raw_capacity_) {
    raw_.reset(new uint8_t[h.raw_payload_bytes + 1]);
    raw_capacity_ = h.raw_payload_bytes + 1;
  }
  return Status::Ok();
}

Status BlockDecoder::Payload(std::string_view block, const BlockHeader& h, const uint8_t** data) {
  APIMETER_RETURN_IF_ERROR(CheckPayload(block, h));
  const auto* payload = reinterpret_cast<const uint8_t*>(block.data()) + kBlockHeaderBytes;
  *data = payload;
  if (!h.compressed) return Status::Ok();
  const size_t size = h.raw_payload_bytes;
  const size_t got = ZSTD_decompressDCtx(dctx_, raw_.get(), size, payload, h.payload_bytes);
  if (ZSTD_isError(got)) return Damaged(std::string("zstd: ") + ZSTD_getErrorName(got));
  decompressed_bytes_ += got;
  if (got != size) {
    return Damaged("zstd frame holds " + std::to_string(got) + " bytes, the header says " +
                   std::to_string(size));
  }
  *data = raw_.get();
  return Status::Ok();
}

Status BlockDecoder::DecodeInto(std::string_view block, DecodedBlock* out, bool validate) {
  APIMETER_ASSIGN_OR_RETURN(const BlockHeader h, ParseBlockHeader(block));
  if (h.segmented) {
    Status st = DecodeSegmented(block, h, out, validate);
    if (!st.ok()) out->Reset(h.group, h.base);
    DropLargeScratch();
    return st;
  }
  const size_t size = h.raw_payload_bytes;
  const uint8_t* data = nullptr;
  Status st = Payload(block, h, &data);
  if (st.ok() && h.series > size / MinSeriesBytes(h.group.kind)) {
    st = Damaged(std::to_string(h.series) + " series cannot fit in " + std::to_string(size) +
                 " payload bytes");
  } else if (st.ok()) {
    out->Reset(h.group, h.base);
    if (h.seen) out->EnableSeen();
    st = ReadColumns(data, data + size, h.series, h.version, out, validate);
    if (!st.ok()) out->Reset(h.group, h.base);  // no half-read columns
  }
  DropLargeScratch();
  return st;
}

Status BlockDecoder::Decode(std::string_view block, DecodedBlock* out) {
  return DecodeInto(block, out, /*validate=*/true);
}

namespace {

Status WrongGroup(const BlockGroup& found, const BlockGroup& expected) {
  return Damaged("holds group " + DescribeGroup(found) + ", read from group " +
                 DescribeGroup(expected));
}

// The key column: n keys (kind x: customer and endpoint deltas), advancing p.
template <typename Keys>
Status ReadKeyColumn(const uint8_t*& p, const uint8_t* end, uint32_t n, const BlockGroup& group,
                     Keys* keys) {
  auto fail = [&](size_t i, const char* what) {
    return Status::ParseError("block " + DescribeGroup(group) + ": key of series " +
                              std::to_string(i) + ": " + what);
  };
  keys->resize(n);
  SeriesKey* k = keys->data();
  if (IsPairKind(group.kind)) {
    uint64_t c = 0, e = 0;
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t dc, de;
      if (!ReadVarint(p, end, &dc) || !ReadVarint(p, end, &de)) return fail(i, kBadVarint);
      if (dc > kMaxIdKey - c) return fail(i, "customer id above 2^32 - 1");
      c += dc;
      if (dc != 0) e = 0;
      if (de > kMaxIdKey - e) return fail(i, "endpoint id above 2^32 - 1");
      e += de;
      k[i] = c << 32 | e;
    }
  } else {
    uint64_t key = 0;
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t d;
      if (!ReadVarint(p, end, &d)) return fail(i, kBadVarint);
      if (d > kMaxIdKey - key) return fail(i, "id above 2^32 - 1");
      k[i] = key += d;
    }
  }
  return Status::Ok();
}

// The keys (strictly ascending) and then the requests of n series.
Status ReadKeysAndRequests(const uint8_t* p, const uint8_t* end, uint32_t n,
                           const BlockGroup& group, std::vector<SeriesKey>* keys,
                           std::vector<uint64_t>* requests) {
  APIMETER_RETURN_IF_ERROR(ReadKeyColumn(p, end, n, group, keys));
  for (uint32_t i = 1; i < n; ++i) {
    if ((*keys)[i] <= (*keys)[i - 1]) {
      return Status::ParseError("block " + DescribeGroup(group) + ": key of series " +
                                std::to_string(i) + ": keys not strictly ascending");
    }
  }
  requests->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!ReadVarint(p, end, &(*requests)[i])) {
      return Status::ParseError("block " + DescribeGroup(group) + ": requests of series " +
                                std::to_string(i) + ": " + kBadVarint);
    }
  }
  return Status::Ok();
}

}  // namespace

Status BlockDecoder::DecodeRequests(std::string_view block, const BlockGroup& expected,
                                    std::vector<SeriesKey>* keys,
                                    std::vector<uint64_t>* requests) {
  keys->clear();
  requests->clear();
  APIMETER_ASSIGN_OR_RETURN(const BlockHeader h, ParseBlockHeader(block));
  if (!(h.group == expected)) return WrongGroup(h.group, expected);
  if (h.segmented) {
    Status st = CheckPayload(block, h);
    if (st.ok()) st = ParseSegments(block, h);
    if (st.ok()) st = DecodeSegmentedRequests(h, keys, requests);
    if (!st.ok()) {
      keys->clear();
      requests->clear();
    }
    DropLargeScratch();
    return st;
  }
  const size_t size = h.raw_payload_bytes;
  if (h.series > size / MinSeriesBytes(h.group.kind)) {
    return Damaged(std::to_string(h.series) + " series cannot fit in " + std::to_string(size) +
                   " payload bytes");
  }
  Status st = CheckPayload(block, h);
  const auto* payload = reinterpret_cast<const uint8_t*>(block.data()) + kBlockHeaderBytes;
  const uint8_t* data = h.compressed ? raw_.get() : payload;
  size_t have = h.compressed ? 0 : size;
  // A compressed payload is streamed, at first only its first zstd block:
  // the encoder ends that block after the two columns. (Blocks written
  // before it did need more of the frame; zstd decodes a block whole.)
  ZSTD_inBuffer in{payload, 0, 0};
  ZSTD_outBuffer out{raw_.get(), size, 0};
  auto pump = [&]() -> Status {
    for (;;) {
      const size_t in_before = in.pos, out_before = out.pos;
      const size_t r = ZSTD_decompressStream(dctx_, &out, &in);
      if (ZSTD_isError(r)) return Damaged(std::string("zstd: ") + ZSTD_getErrorName(r));
      if (r == 0 && out.pos != size) {
        return Damaged("zstd frame holds " + std::to_string(out.pos) + " bytes, the header says " +
                       std::to_string(size));
      }
      if (r == 0 || (in.pos == in_before && out.pos == out_before)) return Status::Ok();
    }
  };
  if (st.ok() && h.compressed) {
    ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
    in.size = ZstdFirstBlockEnd(
        std::string_view(reinterpret_cast<const char*>(payload), h.payload_bytes));
    st = pump();
    have = out.pos;
  }
  while (st.ok()) {
    st = ReadKeysAndRequests(data, data + have, h.series, h.group, keys, requests);
    if (st.ok() || have == size) break;
    // Failed on what is decompressed so far: read the rest, then try again.
    in.size = h.payload_bytes;
    st = pump();
    have = out.pos;
    if (st.ok() && have < size) st = Damaged("zstd frame ends early");
  }
  if (h.compressed) decompressed_bytes_ += out.pos;
  if (!st.ok()) {
    keys->clear();
    requests->clear();
  }
  DropLargeScratch();
  return st;
}

namespace {

// Advances p past `k` varints without reading their values; false when the
// bytes end first. (Only the terminating bytes, high bit clear, are
// counted; a block whose CRC holds has no over-long varint to miss.)
bool SkipVarints(const uint8_t*& p, const uint8_t* end, uint64_t k) {
  while (k >= 8 && end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // The bytes that end a varint (top bit clear), counted without popcnt
    // (not in the x86-64 baseline Debian builds for: a libgcc call per
    // word): each such byte becomes 1, and the multiply sums the 8 bytes
    // into the top one (at most 8, so no carry crosses a byte).
    const uint64_t ends = (~w & 0x8080808080808080ULL) >> 7;
    const uint64_t last = (ends * 0x0101010101010101ULL) >> 56;
    if (last > k) break;
    k -= last;
    p += 8;
  }
  while (k > 0) {
    if (p == end) return false;
    k -= (*p++ & 0x80) == 0;
  }
  return true;
}

}  // namespace

Status BlockDecoder::DecodeSelected(std::string_view block, const BlockGroup& expected,
                                    const RowSelector& select, DecodedBlock* out) {
  APIMETER_ASSIGN_OR_RETURN(const BlockHeader h, ParseBlockHeader(block));
  if (!(h.group == expected)) return WrongGroup(h.group, expected);
  if (h.version < 2) {
    // Format 1 (every entry written): the whole block, then the picked rows.
    APIMETER_RETURN_IF_ERROR(DecodeInto(block, &all_, /*validate=*/false));
    APIMETER_ASSIGN_OR_RETURN(const std::vector<size_t> rows, select(all_));
    out->Reset(all_.group(), all_.base());
    if (all_.has_seen()) out->EnableSeen();
    for (size_t k = 0; k < rows.size(); ++k) {
      if (rows[k] >= all_.size() || (k > 0 && rows[k] <= rows[k - 1])) {
        out->Reset(expected, false);
        return Status::Internal("block selection: indexes must be strictly ascending and below " +
                                std::to_string(all_.size()));
      }
      out->AppendSeriesFrom(all_, rows[k]);
    }
    Status st = out->Validate();
    if (!st.ok()) out->Reset(expected, false);
    return st;
  }
  if (h.segmented) {
    Status st = CheckPayload(block, h);
    if (st.ok()) st = ParseSegments(block, h);
    if (st.ok()) st = DecodeSegmentedSelected(h, select, out);
    if (!st.ok()) out->Reset(expected, false);
    DropLargeScratch();
    return st;
  }
  const size_t size = h.raw_payload_bytes;
  if (h.series > size / MinSeriesBytes(h.group.kind)) {
    return Damaged(std::to_string(h.series) + " series cannot fit in " + std::to_string(size) +
                   " payload bytes");
  }
  const uint8_t* data = nullptr;
  Status st = Payload(block, h, &data);
  if (st.ok()) st = ReadSelectedColumns(data, data + size, h, select, out);
  if (!st.ok()) out->Reset(expected, false);
  DropLargeScratch();
  return st;
}

Status BlockDecoder::ReadSelectedColumns(const uint8_t* p, const uint8_t* const end,
                                         const BlockHeader& h, const RowSelector& select,
                                         DecodedBlock* out) {
  const uint32_t n = h.series;
  // Keys, all of them: the selector finds its series by key.
  all_.Reset(h.group, h.base);
  APIMETER_RETURN_IF_ERROR(ReadKeyColumn(p, end, n, h.group, &all_.keys_));
  APIMETER_ASSIGN_OR_RETURN(const std::vector<size_t> rows, select(all_));
  for (size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] >= n || (k > 0 && rows[k] <= rows[k - 1])) {
      return Status::Internal("block selection: indexes must be strictly ascending and below " +
                              std::to_string(n));
    }
  }
  out->Reset(h.group, h.base);
  if (h.seen) out->EnableSeen();
  APIMETER_RETURN_IF_ERROR(ReadPickedColumns(p, end, n, h, rows, all_.keys_, out));
  return out->Validate();
}

Status BlockDecoder::ReadPickedColumns(const uint8_t* p, const uint8_t* const end, uint32_t n,
                                       const BlockHeader& h, std::span<const size_t> rows,
                                       std::span<const SeriesKey> keys, DecodedBlock* out) {
  const BlockGroup& group = h.group;
  auto fail = [&](const char* column, size_t i, const std::string& what) {
    return Status::ParseError("block " + DescribeGroup(group) + ": " + column + " of series " +
                              std::to_string(i) + ": " + what);
  };
  const size_t m = rows.size();
  // pick[i]: the position of row i among the picked ones, or -1.
  pick_.assign(n, -1);
  for (size_t k = 0; k < m; ++k) pick_[rows[k]] = static_cast<int32_t>(k);

  std::vector<SeriesCounters> counters(m);
  // A column of n varints: each picked row's value to set(k, v); the others
  // skipped (or, with `each`, read and handed to it).
  auto column = [&](const char* name, auto set) -> Status {
    uint32_t i = 0;
    for (size_t k = 0; k < m; ++k) {
      if (!SkipVarints(p, end, rows[k] - i)) return fail(name, rows[k], kBadVarint);
      uint64_t v;
      if (!ReadVarint(p, end, &v)) return fail(name, rows[k], kBadVarint);
      APIMETER_RETURN_IF_ERROR(set(k, v));
      i = static_cast<uint32_t>(rows[k]) + 1;
    }
    if (!SkipVarints(p, end, n - i)) return fail(name, n, kBadVarint);
    return Status::Ok();
  };
  APIMETER_RETURN_IF_ERROR(column("requests", [&](size_t k, uint64_t v) {
    counters[k].requests = v;
    return Status::Ok();
  }));
  APIMETER_RETURN_IF_ERROR(column("bytes in", [&](size_t k, uint64_t v) {
    counters[k].bytes_in = v;
    return Status::Ok();
  }));
  APIMETER_RETURN_IF_ERROR(column("bytes out", [&](size_t k, uint64_t v) {
    counters[k].bytes_out = v;
    return Status::Ok();
  }));
  // The histogram's implied entries need, for every series, whether it has
  // latencies and a latency max: read those two columns whole.
  has_latency_.assign(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v;
    if (!ReadVarint(p, end, &v)) return fail("latency count", i, kBadVarint);
    has_latency_[i] = v != 0;
    if (pick_[i] >= 0) counters[static_cast<size_t>(pick_[i])].latency_count = v;
  }
  uint64_t unit = 1;
  if (n > 0) {
    uint64_t exponent;
    if (!ReadVarint(p, end, &exponent)) return fail("latency unit", 0, kBadVarint);
    if (exponent > 3) return fail("latency unit", 0, "exponent above 3");
    for (; exponent > 0; --exponent) unit *= 10;
  }
  constexpr uint64_t kMaxMax = (uint64_t{1} << 63) - 1;
  max_index_.assign(n, -1);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v;
    if (!ReadVarint(p, end, &v)) return fail("latency max", i, kBadVarint);
    if (v == 0) continue;
    if (v - 1 > kMaxMax / unit) return fail("latency max", i, "above 2^63 - 1");
    const int64_t max = static_cast<int64_t>((v - 1) * unit);
    max_index_[i] = LatencyHistogram::BucketIndex(max);
    if (pick_[i] >= 0) counters[static_cast<size_t>(pick_[i])].latency_max_us = max;
  }
  APIMETER_RETURN_IF_ERROR(column("latency sum", [&](size_t k, uint64_t v) -> Status {
    const int64_t max = counters[k].latency_max_us;
    const uint64_t room = ~uint64_t{0} - (max > 0 ? static_cast<uint64_t>(max) : 0);
    if (v > room / unit) return fail("latency sum", rows[k], "above 2^64 - 1");
    counters[k].latency_sum_us = v * unit + (max > 0 ? static_cast<uint64_t>(max) : 0);
    return Status::Ok();
  }));
  if (group.kind == BlockKind::kAll) {
    APIMETER_RETURN_IF_ERROR(column("rejected", [&](size_t k, uint64_t v) {
      counters[k].rejected = v;
      return Status::Ok();
    }));
  }
  // The pair lists (format 2): every length, then the ids, then the counts;
  // a list of one entry has no count written (its total), and a histogram
  // written as length 0 with latencies is {the latency max's bucket: count}.
  struct Lists {
    std::vector<uint32_t> offsets;  // m + 1
    std::vector<uint16_t> ids;
    std::vector<uint64_t> counts;
  };
  auto read_lists = [&](const char* name, uint64_t max_id, bool histogram, Lists* out_lists) -> Status {
    lengths_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t k;
      if (!ReadVarint(p, end, &k)) return fail(name, i, kBadVarint);
      if (k > max_id + 1) return fail(name, i, std::to_string(k) + " entries cannot fit");
      lengths_[i] = static_cast<uint32_t>(k);
    }
    auto implied = [&](uint32_t i) {
      return histogram && lengths_[i] == 0 && has_latency_[i] && max_index_[i] >= 0;
    };
    out_lists->offsets.assign(m + 1, 0);
    for (size_t k = 0; k < m; ++k) {
      const uint32_t i = static_cast<uint32_t>(rows[k]);
      out_lists->offsets[k + 1] = out_lists->offsets[k] + (implied(i) ? 1 : lengths_[i]);
    }
    out_lists->ids.resize(out_lists->offsets[m]);
    out_lists->counts.resize(out_lists->offsets[m]);
    // Ids: written for every list that is not implied.
    uint64_t skip = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const int32_t k = pick_[i];
      if (k < 0) {
        if (!implied(i)) skip += lengths_[i];
        continue;
      }
      if (!SkipVarints(p, end, skip)) return fail(name, i, kBadVarint);
      skip = 0;
      uint32_t at = out_lists->offsets[static_cast<size_t>(k)];
      if (implied(i)) {
        out_lists->ids[at] = static_cast<uint16_t>(max_index_[i]);
        continue;
      }
      uint64_t value = 0;
      for (uint32_t j = 0; j < lengths_[i]; ++j) {
        uint64_t delta;
        if (!ReadVarint(p, end, &delta)) return fail(name, i, kBadVarint);
        if (delta > max_id - value) return fail(name, i, "id above " + std::to_string(max_id));
        value += delta;
        out_lists->ids[at++] = static_cast<uint16_t>(value);
      }
    }
    if (!SkipVarints(p, end, skip)) return fail(name, n, kBadVarint);
    // Counts: written for every list of more than one entry.
    skip = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t len = implied(i) ? 1 : lengths_[i];
      const int32_t k = pick_[i];
      if (k < 0) {
        if (len != 1) skip += len;
        continue;
      }
      if (!SkipVarints(p, end, skip)) return fail(name, i, kBadVarint);
      skip = 0;
      const size_t at = out_lists->offsets[static_cast<size_t>(k)];
      if (len == 1) {
        const SeriesCounters& c = counters[static_cast<size_t>(k)];
        out_lists->counts[at] = histogram ? c.latency_count : c.requests;
        continue;
      }
      for (uint32_t j = 0; j < len; ++j) {
        if (!ReadVarint(p, end, &out_lists->counts[at + j])) return fail(name, i, kBadVarint);
      }
    }
    if (!SkipVarints(p, end, skip)) return fail(name, n, kBadVarint);
    return Status::Ok();
  };
  Lists statuses, buckets;
  APIMETER_RETURN_IF_ERROR(read_lists("statuses", kMaxStatusCode, false, &statuses));
  APIMETER_RETURN_IF_ERROR(
      read_lists("histogram", LatencyHistogram::kMaxIndex, true, &buckets));
  if (h.seen) {
    const uint64_t minutes = static_cast<uint64_t>(MinutesPerBucket(group.tier));
    APIMETER_RETURN_IF_ERROR(column("first seen", [&](size_t k, uint64_t v) -> Status {
      if (v > minutes) return fail("first seen", rows[k], "beyond the bucket");
      counters[k].seen_first = v == 0 ? kSeenUnknown : static_cast<uint16_t>(v - 1);
      return Status::Ok();
    }));
    APIMETER_RETURN_IF_ERROR(column("last seen", [&](size_t k, uint64_t v) -> Status {
      const uint16_t first = counters[k].seen_first;
      if (first == kSeenUnknown) {
        if (v != 0) return fail("last seen", rows[k], "without a first seen");
        counters[k].seen_last = kSeenUnknown;
        return Status::Ok();
      }
      if (v >= minutes - first) return fail("last seen", rows[k], "beyond the bucket");
      counters[k].seen_last = static_cast<uint16_t>(first + v);
      return Status::Ok();
    }));
  }
  if (p != end) {
    return Status::ParseError("block " + DescribeGroup(group) + ": " + std::to_string(end - p) +
                              " bytes after the last column");
  }
  for (size_t k = 0; k < m; ++k) {
    out->AppendSeries(keys[rows[k]], counters[k]);
    for (uint32_t j = statuses.offsets[k]; j < statuses.offsets[k + 1]; ++j) {
      out->AppendStatus(statuses.ids[j], statuses.counts[j]);
    }
    for (uint32_t j = buckets.offsets[k]; j < buckets.offsets[k + 1]; ++j) {
      out->AppendBucket(buckets.ids[j], buckets.counts[j]);
    }
  }
  return Status::Ok();
}

// ---- format 3: segmented blocks ----

void BlockDecoder::DropLargeScratch() {
  if (raw_capacity_ > kKeepScratchBytes) {
    raw_.reset();
    raw_capacity_ = 0;
  }
}

Status BlockDecoder::ParseSegments(std::string_view block, const BlockHeader& h) {
  segments_.clear();
  const auto* p = reinterpret_cast<const uint8_t*>(block.data()) + kBlockHeaderBytes;
  const uint8_t* const end = p + h.payload_bytes;
  uint64_t count = 0;
  if (!ReadVarint(p, end, &count)) return Damaged("segment directory: " + std::string(kBadVarint));
  // Each directory entry takes 3 bytes at least: bound before reserving.
  if (count == 0 || count > h.series || count > static_cast<uint64_t>(end - p) / 3) {
    return Damaged("segment directory: " + std::to_string(count) + " segments for " +
                   std::to_string(h.series) + " series in " + std::to_string(h.payload_bytes) +
                   " bytes");
  }
  segments_.resize(count);
  uint64_t series = 0, stored = 0, raw = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t n = 0, s = 0, r = 0;
    if (!ReadVarint(p, end, &n) || !ReadVarint(p, end, &s) || !ReadVarint(p, end, &r)) {
      return Damaged("segment directory: " + std::string(kBadVarint));
    }
    const std::string which = "segment " + std::to_string(i) + ": ";
    if (r > kMaxBlockPayloadBytes || s > r) {
      return Damaged(which + std::to_string(s) + " bytes stored for " + std::to_string(r) +
                     " raw");
    }
    if (n == 0 || n > r / MinSeriesBytes(h.group.kind)) {
      return Damaged(which + std::to_string(n) + " series cannot fit in " + std::to_string(r) +
                     " payload bytes");
    }
    series += n;
    stored += s;
    raw += r;
    segments_[i] = {static_cast<uint32_t>(n), nullptr, static_cast<uint32_t>(s),
                    static_cast<uint32_t>(r)};
  }
  if (series != h.series) {
    return Damaged("segments hold " + std::to_string(series) + " series, the header says " +
                   std::to_string(h.series));
  }
  if (raw > kMaxBlockPayloadBytes) {
    return Damaged("segments of " + std::to_string(raw) + " raw bytes are over the limit of " +
                   std::to_string(kMaxBlockPayloadBytes));
  }
  if (stored != static_cast<uint64_t>(end - p)) {
    return Damaged("segments of " + std::to_string(stored) + " bytes, the directory is followed by " +
                   std::to_string(end - p));
  }
  for (Segment& seg : segments_) {
    seg.stored = p;
    p += seg.stored_bytes;
  }
  return Status::Ok();
}

Status BlockDecoder::SegmentPayload(const Segment& s, bool lead_only, const uint8_t** data,
                                    size_t* have) {
  if (s.stored_bytes == s.raw_bytes) {  // stored raw
    *data = s.stored;
    *have = s.raw_bytes;
    return Status::Ok();
  }
  const unsigned long long declared = ZSTD_getFrameContentSize(s.stored, s.stored_bytes);
  if (declared != s.raw_bytes) return Damaged("segment is not a zstd frame of its raw size");
  const size_t frame = ZSTD_findFrameCompressedSize(s.stored, s.stored_bytes);
  if (ZSTD_isError(frame) || frame != s.stored_bytes) {
    return Damaged("segment's zstd frame does not span it exactly");
  }
  if (s.raw_bytes + size_t{1} > raw_capacity_) {
    raw_.reset(new uint8_t[s.raw_bytes + size_t{1}]);
    raw_capacity_ = s.raw_bytes + size_t{1};
  }
  *data = raw_.get();
  if (!lead_only) {
    const size_t got = ZSTD_decompressDCtx(dctx_, raw_.get(), s.raw_bytes, s.stored, s.stored_bytes);
    if (ZSTD_isError(got)) return Damaged(std::string("zstd: ") + ZSTD_getErrorName(got));
    if (got != s.raw_bytes) return Damaged("segment's zstd frame holds fewer bytes than it says");
    decompressed_bytes_ += got;
    *have = got;
    return Status::Ok();
  }
  ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
  const size_t lead = ZstdFirstBlockEnd(
      std::string_view(reinterpret_cast<const char*>(s.stored), s.stored_bytes));
  ZSTD_inBuffer in{s.stored, lead, 0};
  ZSTD_outBuffer out{raw_.get(), s.raw_bytes, 0};
  for (;;) {
    const size_t in_before = in.pos, out_before = out.pos;
    const size_t r = ZSTD_decompressStream(dctx_, &out, &in);
    if (ZSTD_isError(r)) return Damaged(std::string("zstd: ") + ZSTD_getErrorName(r));
    if (r == 0 || (in.pos == in_before && out.pos == out_before)) break;
  }
  decompressed_bytes_ += out.pos;
  *have = out.pos;
  return Status::Ok();
}

Status BlockDecoder::DecodeSegmented(std::string_view block, const BlockHeader& h,
                                     DecodedBlock* out, bool validate) {
  APIMETER_RETURN_IF_ERROR(CheckPayload(block, h));
  APIMETER_RETURN_IF_ERROR(ParseSegments(block, h));
  out->Reset(h.group, h.base);
  if (h.seen) out->EnableSeen();
  for (const Segment& seg : segments_) {
    const uint8_t* data = nullptr;
    size_t have = 0;
    APIMETER_RETURN_IF_ERROR(SegmentPayload(seg, /*lead_only=*/false, &data, &have));
    segment_block_.Reset(h.group, h.base);
    if (h.seen) segment_block_.EnableSeen();
    APIMETER_RETURN_IF_ERROR(
        ReadColumns(data, data + have, seg.series, /*version=*/2, &segment_block_, false));
    for (size_t i = 0; i < segment_block_.size(); ++i) out->AppendSeriesFrom(segment_block_, i);
  }
  return validate ? out->Validate() : Status::Ok();
}

Status BlockDecoder::DecodeSegmentedRequests(const BlockHeader& h, std::vector<SeriesKey>* keys,
                                             std::vector<uint64_t>* requests) {
  keys->reserve(h.series);
  requests->reserve(h.series);
  for (const Segment& seg : segments_) {
    const uint8_t* data = nullptr;
    size_t have = 0;
    APIMETER_RETURN_IF_ERROR(SegmentPayload(seg, /*lead_only=*/true, &data, &have));
    Status st = ReadKeysAndRequests(data, data + have, seg.series, h.group, &segment_keys_,
                                    &segment_requests_);
    if (!st.ok() && have < seg.raw_bytes) {  // not in the first zstd block: read it all
      APIMETER_RETURN_IF_ERROR(SegmentPayload(seg, /*lead_only=*/false, &data, &have));
      st = ReadKeysAndRequests(data, data + have, seg.series, h.group, &segment_keys_,
                               &segment_requests_);
    }
    APIMETER_RETURN_IF_ERROR(st);
    if (!keys->empty() && segment_keys_.front() <= keys->back()) {
      return Damaged("segment keys not strictly ascending after the segment before");
    }
    keys->insert(keys->end(), segment_keys_.begin(), segment_keys_.end());
    requests->insert(requests->end(), segment_requests_.begin(), segment_requests_.end());
  }
  return Status::Ok();
}

Status BlockDecoder::DecodeSegmentedSelected(const BlockHeader& h, const RowSelector& select,
                                             DecodedBlock* out) {
  // Every key first (each segment's first zstd block), for the selector.
  all_.Reset(h.group, h.base);
  all_.keys_.reserve(h.series);
  for (const Segment& seg : segments_) {
    const uint8_t* data = nullptr;
    size_t have = 0;
    APIMETER_RETURN_IF_ERROR(SegmentPayload(seg, /*lead_only=*/true, &data, &have));
    const uint8_t* p = data;
    Status st = ReadKeyColumn(p, data + have, seg.series, h.group, &segment_keys_);
    if (!st.ok() && have < seg.raw_bytes) {
      APIMETER_RETURN_IF_ERROR(SegmentPayload(seg, /*lead_only=*/false, &data, &have));
      p = data;
      st = ReadKeyColumn(p, data + have, seg.series, h.group, &segment_keys_);
    }
    APIMETER_RETURN_IF_ERROR(st);
    for (size_t i = 0; i < segment_keys_.size(); ++i) {
      const SeriesKey before = i > 0 ? segment_keys_[i - 1]
                                     : (all_.keys_.empty() ? 0 : all_.keys_.back());
      if ((i > 0 || !all_.keys_.empty()) && segment_keys_[i] <= before) {
        return Damaged("keys not strictly ascending");
      }
    }
    all_.keys_.insert(all_.keys_.end(), segment_keys_.begin(), segment_keys_.end());
  }
  APIMETER_ASSIGN_OR_RETURN(const std::vector<size_t> rows, select(all_));
  for (size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] >= h.series || (k > 0 && rows[k] <= rows[k - 1])) {
      return Status::Internal("block selection: indexes must be strictly ascending and below " +
                              std::to_string(h.series));
    }
  }
  out->Reset(h.group, h.base);
  if (h.seen) out->EnableSeen();
  // Then the picked series, from their segments only.
  size_t next = 0, first = 0;
  const std::span<const SeriesKey> keys(all_.keys_);
  for (const Segment& seg : segments_) {
    local_rows_.clear();
    while (next < rows.size() && rows[next] < first + seg.series) {
      local_rows_.push_back(rows[next++] - first);
    }
    if (!local_rows_.empty()) {
      const uint8_t* data = nullptr;
      size_t have = 0;
      APIMETER_RETURN_IF_ERROR(SegmentPayload(seg, /*lead_only=*/false, &data, &have));
      const uint8_t* p = data;
      const uint64_t key_varints = IsPairKind(h.group.kind) ? 2 * uint64_t{seg.series} : seg.series;
      if (!SkipVarints(p, data + have, key_varints)) return Damaged("segment keys: truncated");
      APIMETER_RETURN_IF_ERROR(ReadPickedColumns(p, data + have, seg.series, h, local_rows_,
                                                 keys.subspan(first, seg.series), out));
    }
    first += seg.series;
  }
  return out->Validate();
}

Status BlockDecoder::Decode(std::string_view block, const BlockGroup& expected, DecodedBlock* out) {
  APIMETER_RETURN_IF_ERROR(Decode(block, out));
  if (!(out->group() == expected)) {
    const BlockGroup found = out->group();
    out->Reset(expected, false);
    return WrongGroup(found, expected);
  }
  return Status::Ok();
}

Status BlockDecoder::ReadColumns(const uint8_t* p, const uint8_t* const end, uint32_t n,
                                 uint8_t version, DecodedBlock* b, bool validate) {
  const BlockKind kind = b->group_.kind;
  auto fail = [&](const char* column, size_t i, const std::string& what) {
    return Status::ParseError("block " + DescribeGroup(b->group_) + ": " + column + " of series " +
                              std::to_string(i) + ": " + what);
  };

  APIMETER_RETURN_IF_ERROR(ReadKeyColumn(p, end, n, b->group_, &b->keys_));

  struct Column {
    block_internal::Column<uint64_t>* values;
    const char* name;
  };
  const Column columns[] = {{&b->requests_, "requests"},
                            {&b->bytes_in_, "bytes in"},
                            {&b->bytes_out_, "bytes out"},
                            {&b->latency_count_, "latency count"}};
  for (const Column& col : columns) {
    col.values->resize(n);
    uint64_t* v = col.values->data();
    for (uint32_t i = 0; i < n; ++i) {
      if (!ReadVarint(p, end, &v[i])) return fail(col.name, i, kBadVarint);
    }
  }
  uint64_t unit = 1;  // format 1: µs
  if (version >= 2 && n > 0) {
    uint64_t exponent;
    if (!ReadVarint(p, end, &exponent)) return fail("latency unit", 0, kBadVarint);
    if (exponent > 3) return fail("latency unit", 0, "exponent above 3");
    for (; exponent > 0; --exponent) unit *= 10;
  }
  constexpr uint64_t kMaxMax = (uint64_t{1} << 63) - 1;
  b->latency_max_us_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v;
    if (!ReadVarint(p, end, &v)) return fail("latency max", i, kBadVarint);
    if (v != 0 && v - 1 > kMaxMax / unit) return fail("latency max", i, "above 2^63 - 1");
    b->latency_max_us_[i] = v == 0 ? -1 : static_cast<int64_t>((v - 1) * unit);
  }
  b->latency_sum_us_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v;
    if (!ReadVarint(p, end, &v)) return fail("latency sum", i, kBadVarint);
    const int64_t max = b->latency_max_us_[i];
    const uint64_t room = ~uint64_t{0} - (max > 0 ? static_cast<uint64_t>(max) : 0);
    if (v > room / unit) return fail("latency sum", i, "above 2^64 - 1");
    b->latency_sum_us_[i] = v * unit + (max > 0 ? static_cast<uint64_t>(max) : 0);
  }
  if (kind == BlockKind::kAll) {
    b->rejected_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      if (!ReadVarint(p, end, &b->rejected_[i])) return fail("rejected", i, kBadVarint);
    }
  }
  APIMETER_RETURN_IF_ERROR(ReadPairLists(
      p, end, n, kMaxStatusCode, "statuses", version, b->requests_.data(),
      [](uint32_t) { return -1; }, &b->status_offsets_, &b->status_codes_, &b->status_counts_,
      b->group_));
  const int64_t* max = b->latency_max_us_.data();
  APIMETER_RETURN_IF_ERROR(ReadPairLists(
      p, end, n, LatencyHistogram::kMaxIndex, "histogram", version, b->latency_count_.data(),
      [max](uint32_t i) { return max[i] < 0 ? -1 : LatencyHistogram::BucketIndex(max[i]); },
      &b->bucket_offsets_, &b->bucket_indexes_, &b->bucket_counts_, b->group_));
  if (b->has_seen_) {
    b->seen_first_.resize(n);
    b->seen_last_.resize(n);
    const uint64_t minutes = static_cast<uint64_t>(MinutesPerBucket(b->group_.tier));
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t v;
      if (!ReadVarint(p, end, &v)) return fail("first seen", i, kBadVarint);
      if (v > minutes) return fail("first seen", i, "beyond the bucket");
      b->seen_first_[i] = v == 0 ? kSeenUnknown : static_cast<uint16_t>(v - 1);
    }
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t v;
      if (!ReadVarint(p, end, &v)) return fail("last seen", i, kBadVarint);
      const uint16_t first = b->seen_first_[i];
      if (first == kSeenUnknown) {
        if (v != 0) return fail("last seen", i, "without a first seen");
        b->seen_last_[i] = kSeenUnknown;
        continue;
      }
      if (v >= minutes - first) return fail("last seen", i, "beyond the bucket");
      b->seen_last_[i] = static_cast<uint16_t>(first + v);
    }
  }
  if (p != end) {
    return Status::ParseError("block " + DescribeGroup(b->group_) + ": " + std::to_string(end - p) +
                              " bytes after the last column");
  }
  return validate ? b->Validate() : Status::Ok();
}

// ---- one per thread ----

namespace {
BlockEncoder& ThreadEncoder() {
  thread_local BlockEncoder encoder;
  return encoder;
}
}  // namespace

Result<std::string> EncodeBlock(const DecodedBlock& block) { return ThreadEncoder().Encode(block); }

Result<std::string> EncodeBlock(const BlockGroup& group, bool base,
                                std::span<const KeyedRollup> series) {
  return ThreadEncoder().Encode(group, base, series);
}

Result<DecodedBlock> DecodeBlock(std::string_view block) {
  thread_local BlockDecoder decoder;
  DecodedBlock out;
  APIMETER_RETURN_IF_ERROR(decoder.Decode(block, &out));
  return out;
}

}  // namespace apimeter

// The binary form of a storage-v2 block (docs/redis-schema.md "Block format"):
// a 40-byte header, then the columns as LEB128 varints, zstd-compressed when
// that pays; a large block of a customer kind as segments of such columns,
// each compressed on its own, behind a directory (format 3).
//
// Promise: Decode(Encode(b)) == b for every block that passes Validate().
// Decode accepts only bytes that hold a valid block: it checks the magic, the
// version, both CRC-32s, every length, every varint, the zstd frame, and
// then Validate(); anything else is an error Status (kParseError) saying what
// failed — never a crash, never undefined behaviour, never an allocation
// larger than the lengths a block may declare (kMaxBlockPayloadBytes).
// Encode refuses (kInvalidArgument) a block that fails Validate(), and
// (kResourceExhausted) one whose payload would exceed kMaxBlockPayloadBytes.
//
// Thread-safety: a BlockEncoder or BlockDecoder has one owner at a time (it
// keeps a zstd context and scratch buffers, so reuse it: that is what makes
// encoding and decoding allocation-light). The free functions use one of each
// per thread and are safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sink/block.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace apimeter {

inline constexpr size_t kBlockHeaderBytes = 40;
// The format the encoder writes; the decoder reads every version from
// kOldestBlockFormatVersion on (1: latencies in µs and every status and
// histogram entry written; 2: a latency unit per block, the entries a
// series' totals imply left out, and optional seen columns, header flag
// bit 2; docs/redis-schema.md "Block format").
// 3: a block of a customer kind (c, x, v, w) whose raw payload is over
// kSegmentRawBytes, stored as segments of format-2 payloads (about
// kSegmentRawBytes raw each), each compressed on its own, behind a
// directory, so that a reader of a few series decompresses only their
// segments (header flag bit 3). The encoder writes 3 for those blocks and 2
// for every other.
inline constexpr uint8_t kBlockFormatVersion = 3;
inline constexpr uint8_t kOldestBlockFormatVersion = 1;
// The raw payload size a segment aims at (and a block must exceed to be
// segmented): small enough that a read of a few series skips most of a
// day's block, large enough that zstd still finds its runs.
inline constexpr size_t kSegmentRawBytes = size_t{16} << 10;
// Whether Encode may segment a block of `kind` (kinds of unbounded
// cardinality, read a few series at a time; the others are read whole).
bool SegmentableKind(BlockKind kind);
// The largest uncompressed payload a block may have (encoder and decoder).
inline constexpr size_t kMaxBlockPayloadBytes = size_t{64} << 20;
// Payloads up to this size are stored raw; larger ones compressed when smaller.
inline constexpr size_t kRawPayloadMaxBytes = 256;
// zstd levels: deltas are written on the flush path, bases once per compaction.
inline constexpr int kDeltaZstdLevel = 1;
inline constexpr int kBaseZstdLevel = 3;

// The header fields, as checked by ParseBlockHeader.
struct BlockHeader {
  uint8_t version = 0;  // format version
  BlockGroup group;
  bool base = false;
  bool compressed = false;
  bool seen = false;  // version 2, flag bit 2: the payload ends with the seen columns
  bool segmented = false;  // version 3, flag bit 3: a directory, then segments
  uint32_t series = 0;
  uint32_t payload_bytes = 0;      // as stored
  uint32_t raw_payload_bytes = 0;  // uncompressed
  uint32_t payload_crc = 0;
  // CRC-32 of the header's first 36 bytes: with the payload CRC and lengths
  // in it, it identifies the block's content (readers use it as a version).
  uint32_t header_crc = 0;
};

// Reads and checks the header (magic, header CRC, version, kind, tier, flags,
// reserved bits, that the block is exactly header + payload long, and the
// payload length bounds). Does not read the payload.
Result<BlockHeader> ParseBlockHeader(std::string_view block);

class BlockEncoder {
 public:
  BlockEncoder();
  ~BlockEncoder();
  BlockEncoder(const BlockEncoder&) = delete;
  BlockEncoder& operator=(const BlockEncoder&) = delete;

  // The block's bytes; compressed at kBaseZstdLevel if block.base() else
  // kDeltaZstdLevel when the payload is over kRawPayloadMaxBytes and
  // compression makes it smaller.
  Result<std::string> Encode(const DecodedBlock& block);
  // BuildBlock, then Encode.
  Result<std::string> Encode(const BlockGroup& group, bool base,
                             std::span<const KeyedRollup> series);

 private:
  struct Buffer {
    std::unique_ptr<uint8_t[]> data;
    size_t capacity = 0;
    uint8_t* Ensure(size_t n);
  };
  // The format-2 payload of series [first, last) of `block`, into raw_.
  size_t WritePayload(const DecodedBlock& block, size_t first, size_t last);
  // Encode as `segments` segments of equal series counts (the last shorter).
  Result<std::string> EncodeSegmented(const DecodedBlock& block, size_t segments);
  // The header, then `payload`.
  std::string Frame(const DecodedBlock& block, uint8_t version, uint8_t flags,
                    const uint8_t* payload, size_t stored, size_t raw);
  // zstd of raw[0, size) as one frame whose first block ends after
  // lead_bytes_ (the keys and requests columns).
  Status Compress(const uint8_t* raw, size_t size, int level, uint8_t* dst, size_t capacity,
                  size_t* got);

  Buffer raw_, packed_;
  size_t lead_bytes_ = 0;  // WritePayload: bytes of the keys and requests columns
  DecodedBlock built_;
  ZSTD_CCtx_s* cctx_ = nullptr;
};

class BlockDecoder {
 public:
  BlockDecoder();
  ~BlockDecoder();
  BlockDecoder(const BlockDecoder&) = delete;
  BlockDecoder& operator=(const BlockDecoder&) = delete;

  // Decodes into *out (reusing its capacity). On error *out is left empty
  // or unchanged.
  Status Decode(std::string_view block, DecodedBlock* out);
  // Decode, then check that the block belongs to `expected` (a block found
  // in another group's list must not be counted there).
  Status Decode(std::string_view block, const BlockGroup& expected, DecodedBlock* out);

  // The keys and requests columns only (all a ranking by requests needs).
  // The header, the group and the payload CRC are checked as by Decode, but
  // a compressed payload is decompressed only as far as those two columns
  // reach, and the later columns are neither read nor checked. Keys are
  // checked strictly ascending (and below kMaxIdKey where Validate says so).
  // On error both vectors are left empty.
  Status DecodeRequests(std::string_view block, const BlockGroup& expected,
                        std::vector<SeriesKey>* keys, std::vector<uint64_t>* requests);

  // Picks the series to keep from a decoded block whose columns are read
  // but not yet checked: their indexes, strictly ascending.
  using RowSelector = std::function<Result<std::vector<size_t>>(const DecodedBlock& all)>;
  // Decode(block, expected, out), keeping only the series `select` picks.
  // `select` sees a block with every key and no other column; only the
  // picked series are read (the others' varints are skipped), checked
  // (Validate) and copied into *out, so a reader that needs a few series of
  // a large block pays little for the rest (the payload CRC still covers
  // every byte). An error from `select` is returned as it is.
  Status DecodeSelected(std::string_view block, const BlockGroup& expected,
                        const RowSelector& select, DecodedBlock* out);

  // Payload bytes this decoder has decompressed (zstd) so far: what a
  // partial read saved shows here.
  uint64_t decompressed_bytes() const { return decompressed_bytes_; }

 private:
  // Header, CRC, decompression and columns; Validate() only if `validate`.
  Status DecodeInto(std::string_view block, DecodedBlock* out, bool validate);
  Status ReadColumns(const uint8_t* p, const uint8_t* end, uint32_t series, uint8_t version,
                     DecodedBlock* out, bool validate);
  // The payload CRC and zstd frame checks; sizes raw_ for a compressed one.
  Status CheckPayload(std::string_view block, const BlockHeader& h);
  // CheckPayload, then the whole payload decompressed (into raw_);
  // *data points at the raw bytes.
  Status Payload(std::string_view block, const BlockHeader& h, const uint8_t** data);

  // Format 2 only: the columns of the picked series; the others skipped.
  Status ReadSelectedColumns(const uint8_t* p, const uint8_t* end, const BlockHeader& h,
                             const RowSelector& select, DecodedBlock* out);
  // The columns after the keys of n series, for the picked `rows` (strictly
  // ascending, below n; their keys in `keys`), appended to *out (not
  // validated); p starts after the key column.
  Status ReadPickedColumns(const uint8_t* p, const uint8_t* end, uint32_t n,
                           const BlockHeader& h, std::span<const size_t> rows,
                           std::span<const SeriesKey> keys, DecodedBlock* out);

  // Format 3: one segment of the directory.
  struct Segment {
    uint32_t series = 0;
    const uint8_t* stored = nullptr;
    uint32_t stored_bytes = 0;  // as stored: a zstd frame when below raw_bytes
    uint32_t raw_bytes = 0;
  };
  // The directory of a segmented block whose payload CRC was checked.
  Status ParseSegments(std::string_view block, const BlockHeader& h);
  // A segment's format-2 payload: raw, or decompressed into raw_ (whole,
  // or with `lead_only` as far as its first zstd block, which the encoder
  // ends after the keys and requests; *have says how far).
  Status SegmentPayload(const Segment& s, bool lead_only, const uint8_t** data, size_t* have);
  Status DecodeSegmented(std::string_view block, const BlockHeader& h, DecodedBlock* out,
                         bool validate);
  Status DecodeSegmentedRequests(const BlockHeader& h, std::vector<SeriesKey>* keys,
                                 std::vector<uint64_t>* requests);
  Status DecodeSegmentedSelected(const BlockHeader& h, const RowSelector& select,
                                 DecodedBlock* out);
  // Frees raw_ when one large block grew it past what is worth keeping.
  void DropLargeScratch();
  std::vector<Segment> segments_;
  DecodedBlock segment_block_;
  std::vector<SeriesKey> segment_keys_;
  std::vector<uint64_t> segment_requests_;
  std::vector<size_t> local_rows_;

  // DecodeSelected's scratch: every key; per series, the picked position (or
  // -1), whether it has latencies, its latency max's bucket (or -1), a list length.
  DecodedBlock all_;
  std::vector<int32_t> pick_;
  std::vector<uint8_t> has_latency_;
  std::vector<int> max_index_;
  std::vector<uint32_t> lengths_;

  std::unique_ptr<uint8_t[]> raw_;
  size_t raw_capacity_ = 0;
  uint64_t decompressed_bytes_ = 0;
  ZSTD_DCtx_s* dctx_ = nullptr;
};

// Where the first zstd block of a zstd frame ends (RFC 8878 headers), or
// frame.size() when the bytes do not say. DecodeRequests streams only that
// far at first.
size_t ZstdFirstBlockEnd(std::string_view frame);

// One encoder / decoder per calling thread.
Result<std::string> EncodeBlock(const DecodedBlock& block);
Result<std::string> EncodeBlock(const BlockGroup& group, bool base,
                                std::span<const KeyedRollup> series);
Result<DecodedBlock> DecodeBlock(std::string_view block);

}  // namespace apimeter

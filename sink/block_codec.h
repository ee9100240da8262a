// The binary form of a storage-v2 block (docs/redis-schema.md "Block format"):
// a 40-byte header, then the columns as LEB128 varints, zstd-compressed when
// that pays.
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
#include <memory>
#include <span>
#include <string>
#include <string_view>

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
inline constexpr uint8_t kBlockFormatVersion = 2;
inline constexpr uint8_t kOldestBlockFormatVersion = 1;
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
  size_t WritePayload(const DecodedBlock& block);

  Buffer raw_, packed_;
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

 private:
  Status ReadColumns(const uint8_t* p, const uint8_t* end, uint32_t series, uint8_t version,
                     DecodedBlock* out);

  std::unique_ptr<uint8_t[]> raw_;
  size_t raw_capacity_ = 0;
  ZSTD_DCtx_s* dctx_ = nullptr;
};

// One encoder / decoder per calling thread.
Result<std::string> EncodeBlock(const DecodedBlock& block);
Result<std::string> EncodeBlock(const BlockGroup& group, bool base,
                                std::span<const KeyedRollup> series);
Result<DecodedBlock> DecodeBlock(std::string_view block);

}  // namespace apimeter

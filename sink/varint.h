// LEB128 varints for the block codec (docs/redis-schema.md "Block format").
//
// Promise: PutVarint writes 1..10 bytes, 7 bits per byte, low bits first,
// high bit set on every byte but the last. ReadVarint reads one back from
// [p, end) and advances p; it returns false, leaving p unspecified, when the
// bytes end first or the value does not fit 64 bits (an 11th byte, or a 10th
// byte above 1). It never reads at or past `end`. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace apimeter {

inline constexpr size_t kMaxVarintBytes = 10;

// Writes v at p (room for kMaxVarintBytes needed); returns the end.
inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

inline bool ReadVarintSlow(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p == end) return false;
    const uint64_t b = *p++;
    if (shift == 63 && b > 1) return false;  // bits beyond 64
    v |= (b & 0x7F) << shift;
    if (b < 0x80) {
      *out = v;
      return true;
    }
  }
  return false;  // an 11th byte
}

inline bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  // Most values of a block take one or two bytes: one bounds check for both.
  if (end - p >= 2) [[likely]] {
    const uint64_t b0 = p[0];
    if (b0 < 0x80) {
      *out = b0;
      p += 1;
      return true;
    }
    const uint64_t b1 = p[1];
    if (b1 < 0x80) {
      *out = (b0 & 0x7F) | b1 << 7;
      p += 2;
      return true;
    }
  }
  return ReadVarintSlow(p, end, out);
}

}  // namespace apimeter

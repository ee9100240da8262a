// Flat hash tables used by the Aggregator's hot path (internal to aggregator/).
//
// Promise: NameTable interns strings into dense ids 0..size()-1 (names are
// copied; ids stay valid until Clear). U64Map maps 64-bit keys to 32-bit
// values, DayPairMap (day, 64-bit pair) keys to 32-bit values. All use open
// addressing with linear probing at load <= 1/2, grow by doubling, and report
// their heap use in O(1). ChunkedPool<T> hands out dense indexes of
// value-initialized T in fixed-size chunks: elements never move (so a
// reference stays valid across later Add calls), growth never copies, and
// the spare capacity is under one chunk. They exist because the aggregator
// does several lookups per log line and std::unordered_map costs a node
// allocation per entry and a pointer chase per lookup. Not thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/prefetch.h"

namespace apimeter::aggregator_internal {

inline uint64_t MixBits(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Fast hash of a short name, 8 bytes at a time. Names are aggregation keys
// chosen by our own normalizer/resolver, and the tables bound their size, so
// a non-keyed hash is enough here. The tail is read with fixed-size loads (an
// overlapping last word, or 4/2/1-byte pieces): a variable-length memcpy
// through the stack stalls store-to-load forwarding on every call.
inline uint64_t HashName(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  auto mix = [&h](uint64_t w) {
    h = (h ^ w) * 0x9fb21c651e98df25ULL;
    h ^= h >> 29;
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    mix(w);
  }
  if (i < n) {
    uint64_t w = 0;
    if (n >= 8) {
      std::memcpy(&w, p + n - 8, 8);  // overlaps bytes already mixed; still a function of s
    } else {
      size_t k = 0;
      if (n - k >= 4) {
        uint32_t v;
        std::memcpy(&v, p + k, 4);
        w = v;
        k += 4;
      }
      if (n - k >= 2) {
        uint16_t v;
        std::memcpy(&v, p + k, 2);
        w |= uint64_t{v} << (8 * k);
        k += 2;
      }
      if (n - k >= 1) w |= uint64_t{static_cast<unsigned char>(p[k])} << (8 * k);
    }
    mix(w);
  }
  return MixBits(h);
}

// a == b for names already known to have equal length and hash: fixed-size
// loads instead of a memcmp call (this runs twice per log line).
inline bool SameBytes(const char* a, const char* b, size_t n) {
  auto load8 = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (load8(a + i) != load8(b + i)) return false;
    }
    return load8(a + n - 8) == load8(b + n - 8);  // the last word may overlap
  }
  return std::memcmp(a, b, n) == 0;
}

class NameTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  uint32_t Find(std::string_view name, uint64_t hash) const {
    if (slots_.empty()) return kNone;
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id == kNone) return kNone;
      if (s.hash == hash) {
        const std::string& held = names_[s.id];
        if (held.size() == name.size() && SameBytes(held.data(), name.data(), name.size())) {
          return s.id;
        }
      }
    }
  }
  // The name must not be present.
  uint32_t Insert(std::string_view name, uint64_t hash) {
    if ((names_.size() + 1) * 2 > slots_.size()) Grow();
    const uint32_t id = static_cast<uint32_t>(names_.size());
    names_.emplace_back(name);
    name_bytes_ += names_.back().capacity() > 15 ? names_.back().capacity() + 1 : 0;
    Place(hash, id);
    return id;
  }
  const std::string& Name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }
  void Clear() { *this = NameTable(); }
  size_t MemoryBytes() const {
    return slots_.capacity() * sizeof(Slot) + names_.capacity() * sizeof(std::string) + name_bytes_;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t id = kNone;
  };
  void Place(uint64_t hash, uint32_t id) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i].id != kNone) i = (i + 1) & mask;
    slots_[i] = Slot{hash, id};
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    for (const Slot& s : old) {
      if (s.id != kNone) Place(s.hash, s.id);
    }
  }
  std::vector<Slot> slots_;
  std::vector<std::string> names_;
  size_t name_bytes_ = 0;  // heap bytes of names longer than the small-string buffer
};

class U64Map {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  uint32_t Find(uint64_t key) const {
    if (slots_.empty()) return kNone;
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return slots_[i].value;
      if (slots_[i].key == kEmptyKey) return kNone;
    }
  }
  // The key must not be present, and must not be ~0.
  void Insert(uint64_t key, uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    Place(key, value);
    ++size_;
  }
  size_t size() const { return size_; }
  void Clear() { *this = U64Map(); }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmptyKey;
    uint32_t value = kNone;
  };
  size_t Home(uint64_t key) const { return (key * 0x9e3779b97f4a7c15ULL) >> shift_; }
  void Place(uint64_t key, uint32_t value) {
    size_t i = Home(key);
    while (slots_[i].key != kEmptyKey) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t n = old.empty() ? 64 : old.size() * 2;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    shift_ = 64 - __builtin_ctzll(n);
    for (const Slot& s : old) {
      if (s.key != kEmptyKey) Place(s.key, s.value);
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
  int shift_ = 64;
};

// Keys are (day, pair) with pair = customer id << 32 | endpoint id: the
// customer × endpoint table of the aggregator. A day is any int64, so the key
// is exact for every timestamp.
class DayPairMap {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  uint32_t Find(int64_t day, uint64_t pair) const {
    if (slots_.empty()) return kNone;
    for (size_t i = Home(day, pair);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value == kNone) return kNone;
      if (s.pair == pair && s.day == day) return s.value;
    }
  }
  // A hint that Find(day, pair) follows soon.
  void Prefetch(int64_t day, uint64_t pair) const {
    if (slots_.empty()) return;
    const Slot* s = slots_.data() + Home(day, pair);
    PrefetchLine(s);
    PrefetchLine(&s->value);  // a 24-byte slot may straddle two lines
  }
  // The key must not be present; value must not be kNone.
  void Insert(int64_t day, uint64_t pair, uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    Place(Slot{day, pair, value});
    ++size_;
  }
  size_t size() const { return size_; }
  void Clear() { *this = DayPairMap(); }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    int64_t day = 0;
    uint64_t pair = 0;
    uint32_t value = kNone;
  };
  size_t Home(int64_t day, uint64_t pair) const {
    return MixBits(pair ^ (static_cast<uint64_t>(day) * 0x9e3779b97f4a7c15ULL)) & mask_;
  }
  void Place(const Slot& slot) {
    size_t i = Home(slot.day, slot.pair);
    while (slots_[i].value != kNone) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t n = old.empty() ? 64 : old.size() * 2;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    for (const Slot& s : old) {
      if (s.value != kNone) Place(s);
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

template <typename T>
class ChunkedPool {
 public:
  static constexpr size_t kChunk = 512;

  // Index of a new value-initialized element.
  uint32_t Add() {
    if (size_ % kChunk == 0) chunks_.push_back(std::make_unique<T[]>(kChunk));
    return static_cast<uint32_t>(size_++);
  }
  T& operator[](uint32_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const T& operator[](uint32_t i) const { return chunks_[i / kChunk][i % kChunk]; }
  size_t size() const { return size_; }
  void Clear() { *this = ChunkedPool(); }
  size_t MemoryBytes() const {
    return chunks_.size() * kChunk * sizeof(T) + chunks_.capacity() * sizeof(chunks_[0]);
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace apimeter::aggregator_internal

#include "aggregator/customer_resolver.h"

#include <bit>
#include <cstring>
#include <random>

namespace apimeter {
namespace {

uint64_t Load64Le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t LoadPartialLe(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i > 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i - 1]);
  return v;
}

struct SipState {
  uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void Compress(uint64_t m) {
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
};

// Fixed keys used only to derive the 128-bit SipHash key from the secret text.
constexpr uint8_t kDeriveKey0[16] = {'a', 'p', 'i', 'm', 'e', 't', 'e', 'r',
                                     '.', 'c', 'i', 'd', '.', 'k', '0', '!'};
constexpr uint8_t kDeriveKey1[16] = {'a', 'p', 'i', 'm', 'e', 't', 'e', 'r',
                                     '.', 'c', 'i', 'd', '.', 'k', '1', '!'};

void DeriveKey(std::string_view secret, uint8_t out[16]) {
  if (secret.empty()) secret = CustomerResolver::kDefaultSecret;
  const uint64_t k0 = SipHash24(kDeriveKey0, secret);
  const uint64_t k1 = SipHash24(kDeriveKey1, secret);
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(k0 >> (8 * i));
    out[8 + i] = static_cast<uint8_t>(k1 >> (8 * i));
  }
}

void FormatId(uint64_t hash, char out[14]) {
  static constexpr char kHex[] = "0123456789abcdef";
  out[0] = 'k';
  out[1] = '_';
  for (int i = 0; i < 12; ++i) out[2 + i] = kHex[(hash >> (4 * (11 - i))) & 0xf];
}

// Seeded, fast, non-cryptographic hash for the cache (never stored outside it).
uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t CacheHash(uint64_t seed, std::string_view s) {
  uint64_t h = seed ^ (s.size() * 0x9e3779b97f4a7c15ULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = Mix(h ^ w);
  }
  if (i < s.size()) h = Mix(h ^ LoadPartialLe(s.data() + i, s.size() - i));
  h = Mix(h);
  return h == 0 ? 1 : h;  // 0 marks an empty slot
}

std::string Sanitize(std::string name) {
  for (char& c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return name;
}

size_t SlotCountFor(size_t entries) {
  size_t n = 16;
  while (n < entries * 2) n *= 2;
  return n;
}

}  // namespace

uint64_t SipHash24(const uint8_t key[16], std::string_view data) {
  const uint64_t k0 = Load64Le(key), k1 = Load64Le(key + 8);
  SipState s{0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1, 0x6c7967656e657261ULL ^ k0,
             0x7465646279746573ULL ^ k1};
  const size_t n = data.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s.Compress(LoadPartialLe(data.data() + i, 8));
  }
  // Last block: the remaining bytes, with the length's low byte on top.
  uint64_t last = (static_cast<uint64_t>(n) << 56) | LoadPartialLe(data.data() + i, n - i);
  s.Compress(last);
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

CustomerResolver::CustomerResolver(std::string_view secret,
                                   std::map<std::string, std::string> names, size_t cache_entries)
    : seed_(0), max_entries_(cache_entries == 0 ? 1 : cache_entries) {
  DeriveKey(secret, key_);
  for (auto& [id, name] : names) names_.emplace(id, Sanitize(std::move(name)));
  // A per-process seed: crafted keys cannot be made to collide in the cache
  // without knowing it.
  std::random_device rd;
  seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  slots_.resize(SlotCountFor(max_entries_));
  arena_ = std::make_unique<char[]>(max_entries_ * kIdLength);
}

CustomerResolver::~CustomerResolver() = default;

std::string CustomerResolver::IdFor(std::string_view secret, std::string_view raw_key) {
  uint8_t key[16];
  DeriveKey(secret, key);
  char id[kIdLength];
  FormatId(SipHash24(key, raw_key), id);
  return std::string(id, kIdLength);
}

std::string_view CustomerResolver::Resolve(std::string_view raw_key) {
  if (raw_key.empty() || raw_key == "-") return kAnonymous;
  const uint64_t h = CacheHash(seed_, raw_key);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].hash != 0) {
    if (slots_[i].hash == h) return {slots_[i].data, slots_[i].size};
    i = (i + 1) & mask;
  }
  if (cache_used_ >= max_entries_) {
    ClearCache();
    i = h & mask;  // the table is empty now
  }
  std::string_view result = ResolveUncached(raw_key);
  slots_[i] = Slot{h, result.data(), static_cast<uint32_t>(result.size())};
  ++cache_used_;
  return result;
}

std::string_view CustomerResolver::ResolveUncached(std::string_view raw_key) {
  char id[kIdLength];
  FormatId(SipHash24(key_, raw_key), id);
  auto it = names_.find(std::string_view(id, kIdLength));
  if (it != names_.end()) return it->second;
  return InternId(id);
}

std::string_view CustomerResolver::InternId(const char id[kIdLength]) {
  // One arena entry per cache entry at most, so the arena never overflows
  // within a generation.
  char* dst = arena_.get() + arena_used_;
  std::memcpy(dst, id, kIdLength);
  arena_used_ += kIdLength;
  return {dst, kIdLength};
}

void CustomerResolver::ClearCache() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  cache_used_ = 0;
  ++cache_clears_;
  // Keep the previous generation's ids alive (see "View lifetime").
  previous_arena_ = std::move(arena_);
  arena_ = std::make_unique<char[]>(max_entries_ * kIdLength);
  arena_used_ = 0;
}

size_t CustomerResolver::MemoryBytes() const {
  size_t bytes = sizeof(*this) + slots_.size() * sizeof(Slot) + 2 * max_entries_ * kIdLength;
  for (const auto& [id, name] : names_) bytes += 64 + id.capacity() + name.capacity();
  return bytes;
}

}  // namespace apimeter

// CustomerResolver: turns the raw customer key of a log line (e.g. an API key)
// into the customer name apimeter stores.
//
// Promise: Resolve(key) is
//   - "anonymous" for an empty key or "-";
//   - the display name from the customers file when IdFor(secret, key) is one
//     of its ids;
//   - otherwise the id itself, "k_" + 12 lowercase hex digits of a SipHash-2-4
//     keyed hash of the key (low 48 bits). Without the secret the id cannot be
//     turned back into the key or checked against a guessed key.
// Raw keys are never stored, logged or returned: the resolver's cache is
// keyed by a seeded 64-bit non-cryptographic hash of the raw key, never by the
// key itself. Memory is bounded: the cache holds at most `cache_entries`
// keys and is cleared when full, whatever number of distinct keys arrive.
//
// View lifetime: a returned view of a mapped name or "anonymous" is valid for
// the resolver's lifetime. A returned k_ id lives in a bounded arena; it is
// valid until at least `cache_entries` further distinct keys have been
// resolved (the arena of the previous generation is kept), which is far
// longer than the "resolve, then Aggregator::Add (which copies)" use.
//
// An empty secret selects kDefaultSecret (documented, public): ids are then
// stable but guessable from a known key, so the caller should log a warning.
// Display names have control characters replaced by '_' (names are stored in
// Redis keys that use \x1f as a separator).
//
// Not thread-safe (Resolve updates the cache); one resolver per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/defaults.h"

namespace apimeter {

// SipHash-2-4 (Aumasson & Bernstein, 2012) of `data` under a 128-bit key
// given as 16 bytes (little-endian k0 then k1, as in the reference code).
uint64_t SipHash24(const uint8_t key[16], std::string_view data);

class CustomerResolver {
 public:
  static constexpr std::string_view kDefaultSecret = defaults::kCustomerIdSecret;
  static constexpr std::string_view kAnonymous = "anonymous";
  static constexpr size_t kDefaultCacheEntries = 100000;

  CustomerResolver(std::string_view secret, std::map<std::string, std::string> names,
                   size_t cache_entries = kDefaultCacheEntries);
  ~CustomerResolver();
  CustomerResolver(const CustomerResolver&) = delete;
  CustomerResolver& operator=(const CustomerResolver&) = delete;

  // "k_" + 12 lowercase hex digits; an empty secret means kDefaultSecret.
  static std::string IdFor(std::string_view secret, std::string_view raw_key);

  std::string_view Resolve(std::string_view raw_key);

  // Keys currently cached, and times the cache was cleared because it was full.
  size_t cache_size() const { return cache_used_; }
  uint64_t cache_clears() const { return cache_clears_; }
  size_t MemoryBytes() const;

 private:
  struct Slot {
    uint64_t hash = 0;  // seeded hash of the raw key; 0 = empty slot
    const char* data = nullptr;
    uint32_t size = 0;
  };
  static constexpr size_t kIdLength = 14;  // "k_" + 12 hex

  std::string_view ResolveUncached(std::string_view raw_key);
  std::string_view InternId(const char id[kIdLength]);
  void ClearCache();

  uint8_t key_[16];
  std::map<std::string, std::string, std::less<>> names_;  // id -> sanitized display name
  uint64_t seed_;
  size_t max_entries_;
  std::vector<Slot> slots_;  // open addressing, power-of-two size, load <= 1/2
  size_t cache_used_ = 0;
  uint64_t cache_clears_ = 0;
  // k_ ids of the current and previous cache generations (see "View lifetime").
  std::unique_ptr<char[]> arena_, previous_arena_;
  size_t arena_used_ = 0;
};

}  // namespace apimeter

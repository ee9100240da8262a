// ClientCells: the aggregator's part for the client dimension (issue 18
// part 2): per UTC day only, three series kinds (aggregator/flush_batch.h):
// client, client × endpoint and customer × client.
//
// Promise: every request added is counted exactly once in each of the three
// kinds of its day. Bounds between Take calls: at most max_clients distinct
// client names (further names, and any name that is empty, longer than
// kMaxClientNameBytes or holds a control byte, count as "other", like the
// aggregator's endpoints), and at most max_pairs cells of the two pair kinds
// together; a pair past that counts as client "other" × its endpoint, or its
// customer × client "other", so the sums per endpoint and per customer stay
// exact. MemoryBytes() is an O(1) estimate of all that is held.
// Take hands out day deltas sorted by (bucket, kind, name) and leaves the
// cells empty. Not thread-safe: owned by one Aggregator.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aggregator/compact_rollup.h"
#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"

namespace apimeter {

class ClientCells {
 public:
  static constexpr size_t kMaxClientNameBytes = 64;

  ClientCells(int64_t max_clients, int64_t max_pairs);

  // Counts one request of `client` in `day`. endpoint and customer are the
  // aggregator's ids for names that `names` (in Take) turns back;
  // histogram_bucket is LatencyHistogram::BucketIndex(latency_us) when
  // latency_us >= 0 (computed once per line by the caller).
  void Add(int64_t day, std::string_view client, uint32_t endpoint, uint32_t customer, int status,
           uint64_t bytes_in, uint64_t bytes_out, int64_t latency_us, int histogram_bucket);

  // endpoint_name(id) / customer_name(id): the names of the ids Add got.
  using NameOf = std::function<const std::string&(uint32_t)>;
  std::vector<SeriesDelta> Take(const NameOf& endpoint_name, const NameOf& customer_name);

  bool Empty() const { return cells_.empty(); }
  size_t MemoryBytes() const { return bytes_; }

 private:
  struct Key {
    int64_t day;
    SeriesKind kind;
    uint32_t a, b;  // client | client, endpoint | customer, client
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t h = static_cast<uint64_t>(k.day) * 0x9E3779B97F4A7C15ull;
      h ^= (uint64_t{k.a} << 32 | k.b) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
      h ^= static_cast<uint64_t>(k.kind) * 0xFF51AFD7ED558CCDull;
      return static_cast<size_t>(h ^ (h >> 29));
    }
  };

  // Looks names up by string_view (no std::string per line).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  uint32_t Intern(std::string_view client);
  uint32_t Other();
  // The cell of `key`; created (and counted in pairs_ when `pair`) only
  // while the pair cap allows, else nullptr.
  aggregator_internal::CompactRollup* Cell(const Key& key, bool pair);
  void Count(aggregator_internal::CompactRollup* cell, int status, uint64_t bytes_in,
             uint64_t bytes_out, int64_t latency_us, int bucket);

  int64_t max_clients_, max_pairs_;
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> ids_;
  std::vector<std::string> names_;  // by id
  uint32_t other_ = UINT32_MAX;
  int64_t pairs_ = 0;
  // CompactRollup: one 128-byte block per cell, spilling to the heap only
  // for a busy series (most pairs see few requests), as the aggregator's
  // customer × endpoint cells.
  std::unordered_map<Key, aggregator_internal::CompactRollup, KeyHash> cells_;
  size_t bytes_ = 0;
};

}  // namespace apimeter

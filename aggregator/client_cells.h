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
// cells empty.
//
// Cost: the cells are CompactRollups in a chunked pool behind one flat
// (day, pair) index, like the aggregator's customer × endpoint cells, and a
// request is counted in stages so that the aggregator's line pipeline can
// overlap their cache misses: Intern (in line order) and PrefetchIndex at
// Add, Find (in line order: the caps admit the same pairs as Add would) and
// the Prefetch hints a few lines later, Count last. Add does all at once.
// Not thread-safe: owned by one Aggregator.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aggregator/compact_rollup.h"
#include "aggregator/flat_tables.h"
#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"

namespace apimeter {

class ClientCells {
 public:
  static constexpr size_t kMaxClientNameBytes = 64;
  static constexpr uint32_t kNone = UINT32_MAX;

  // The three cells one request is counted in.
  struct Cells {
    uint32_t client = kNone, client_endpoint = kNone, customer_client = kNone;
  };

  ClientCells(int64_t max_clients, int64_t max_pairs);

  // Counts one request of `client` in `day`. endpoint and customer are the
  // aggregator's ids (below 2^30) for names that `names` (in Take) turns back;
  // histogram_bucket is LatencyHistogram::BucketIndex(latency_us) when
  // latency_us >= 0 (computed once per line by the caller).
  void Add(int64_t day, std::string_view client, uint32_t endpoint, uint32_t customer, int status,
           uint64_t bytes_in, uint64_t bytes_out, int64_t latency_us, int histogram_bucket) {
    Count(Find(day, Intern(client), endpoint, customer), status, bytes_in, bytes_out, latency_us,
          histogram_bucket);
  }

  // Add in stages (see Cost above).
  uint32_t Intern(std::string_view client);
  void PrefetchIndex(int64_t day, uint32_t client, uint32_t endpoint, uint32_t customer) const;
  Cells Find(int64_t day, uint32_t client, uint32_t endpoint, uint32_t customer);
  void PrefetchCells(const Cells& c) const;
  void PrefetchSpill(const Cells& c) const;
  void PrefetchBucket(const Cells& c, int bucket) const;
  void Count(const Cells& c, int status, uint64_t bytes_in, uint64_t bytes_out,
             int64_t latency_us, int histogram_bucket);

  // endpoint_name(id) / customer_name(id): the names of the ids Add got.
  using NameOf = std::function<const std::string&(uint32_t)>;
  std::vector<SeriesDelta> Take(const NameOf& endpoint_name, const NameOf& customer_name);

  bool Empty() const { return keys_.empty(); }
  size_t MemoryBytes() const {
    return bytes_ + index_.MemoryBytes() + cells_.MemoryBytes() + keys_.capacity() * sizeof(Key) +
           last_.capacity() * sizeof(LastCell);
  }

 private:
  struct Key {
    int64_t day;
    SeriesKind kind;
    uint32_t a, b;  // client | client, endpoint | customer, client
  };
  // The client cell a client used last (lines mostly arrive in time order).
  struct LastCell {
    int64_t day = INT64_MIN;
    uint32_t cell = kNone;
  };

  // Looks names up by string_view (no std::string per line).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // The index's pair for a key: the kind in the top two bits (ids < 2^30).
  static uint64_t Pair(SeriesKind kind, uint32_t a, uint32_t b);
  uint32_t Other();
  // The cell of a key; created (and counted in pairs_ when `pair`) only
  // while the pair cap allows, else kNone.
  uint32_t Cell(const Key& key, bool pair);
  uint32_t PairCell(int64_t day, SeriesKind kind, uint32_t a, uint32_t b, bool client_first);

  int64_t max_clients_, max_pairs_;
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> ids_;
  std::vector<std::string> names_;  // by id
  std::vector<LastCell> last_;      // by client id
  uint32_t other_ = kNone;
  int64_t pairs_ = 0;
  // CompactRollup: one 128-byte block per cell, spilling to the heap only
  // for a busy series (most pairs see few requests), as the aggregator's
  // customer × endpoint cells.
  aggregator_internal::DayPairMap index_;  // (day, Pair(kind, a, b)) -> cell
  aggregator_internal::ChunkedPool<aggregator_internal::CompactRollup> cells_;
  std::vector<Key> keys_;  // by cell
  size_t bytes_ = 0;       // names and the cells' heap spills
};

}  // namespace apimeter

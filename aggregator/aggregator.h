// Aggregator: the in-memory per-minute pre-aggregator between the parser and
// the sink.
//
// Promise: every request is counted in the minute of its own timestamp
// (floor(time_us / 60 s), UTC; out-of-order lines are fine), in five series:
// all, host (options.host), endpoint, customer and customer × endpoint (named
// as in docs/redis-schema.md; the ce name is customer + '\x1f' + endpoint).
// TakeBatch hands over deltas — minute rollups plus hour and day rollups that
// are exact sums of those minutes — and the slowest requests of each UTC day
// (at most slow_top_n per day), then leaves the aggregator empty. Output order
// is deterministic: series sorted by (tier, bucket, kind, name), slow
// requests by (day, latency desc, time, ...).
//
// Bounds: at most max_endpoints distinct endpoint names, max_customers
// customers and max_customer_endpoints customer × endpoint pairs are held
// between TakeBatch calls; further names are counted as "other" (for a pair:
// customer "other" × that endpoint). A name that is empty, longer than
// kMaxNameBytes or holds a control character is also counted as "other"
// (the normalizer and resolver never produce one). MemoryBytes() is an honest
// O(1) estimate of everything held, so callers can flush or pause when it
// passes their limit (it grows with minutes × series, which the caps bound per
// minute).
//
// Not thread-safe: one aggregator per pipeline thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aggregator/flat_tables.h"
#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "common/log_record.h"

namespace apimeter {

struct AggregatorOptions {
  std::string host;                         // this agent's host name
  int64_t max_endpoints = 2000;             // distinct endpoint names held between TakeBatch calls
  int64_t max_customers = 50000;            // same for customers
  int64_t max_customer_endpoints = 200000;  // same for customer × endpoint pairs
  int64_t slow_top_n = 100;                 // slowest requests kept per UTC day
};

class Aggregator {
 public:
  static constexpr std::string_view kOther = "other";
  static constexpr size_t kMaxNameBytes = 256;

  explicit Aggregator(AggregatorOptions options);

  // Counts one parsed request in the minute of record.time_us and offers it as
  // a slow-request candidate (when it has a latency).
  void Add(const LogRecord& record, std::string_view endpoint, std::string_view customer);
  // Counts a malformed line (field `rejected` of the all and host series).
  void AddRejected(int64_t time_us);
  // Moves everything out as deltas and leaves the aggregator empty.
  FlushBatch TakeBatch();

  size_t MemoryBytes() const;
  uint64_t lines() const { return lines_; }
  bool Empty() const { return lines_ == 0; }
  const AggregatorOptions& options() const { return options_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kAllSeries = 0;
  static constexpr uint32_t kHostSeries = 1;

  struct Series {
    SeriesKind kind;
    uint32_t customer;  // customer id (customer and ce series)
    uint32_t endpoint;  // endpoint id (endpoint and ce series)
  };
  // The rollup of a series in the minute slot it was last used in. Lines
  // arrive mostly in time order, so this direct array (indexed by endpoint,
  // customer or pair series id) answers most lookups without hashing.
  struct LastRollup {
    uint32_t slot = kNone;
    uint32_t rollup = kNone;
  };
  struct DayTop {
    std::vector<SlowRequest> heap;  // min-heap by "slowness", size <= slow_top_n
    int64_t threshold = -1;         // when full, a candidate must beat this latency
  };

  uint32_t MinuteSlot(int64_t minute);
  uint32_t InternName(aggregator_internal::NameTable& table, std::vector<uint32_t>& series,
                      SeriesKind kind, int64_t limit, std::string_view name);
  uint32_t OtherId(aggregator_internal::NameTable& table, std::vector<uint32_t>& series,
                   SeriesKind kind);
  uint32_t EndpointId(std::string_view name);
  uint32_t CustomerId(std::string_view name);
  uint32_t CustomerEndpointSeries(uint32_t customer, uint32_t endpoint);
  uint32_t NewSeries(SeriesKind kind, uint32_t customer, uint32_t endpoint);
  uint32_t RollupFor(uint32_t slot, uint32_t series);
  uint32_t CachedRollupFor(uint32_t slot, uint32_t series);
  void OfferSlow(const LogRecord& record, uint32_t endpoint, uint32_t customer);
  std::string SeriesName(const Series& s) const;
  void Reset();

  AggregatorOptions options_;
  aggregator_internal::NameTable endpoints_, customers_;
  std::vector<uint32_t> endpoint_series_, customer_series_;  // name id -> series id
  aggregator_internal::U64Map ce_series_;  // (customer << 32 | endpoint) -> series
  uint32_t ce_pairs_ = 0;                  // pairs admitted under the cap
  std::vector<Series> series_;
  std::vector<int64_t> minutes_;  // minute slot -> minute number
  std::unordered_map<int64_t, uint32_t> minute_slots_;
  int64_t last_minute_ = INT64_MIN;
  uint32_t last_slot_ = 0;
  aggregator_internal::U64Map rollup_index_;  // (slot << 32 | series) -> index in rollups_
  std::vector<Rollup> rollups_;
  std::vector<uint64_t> rollup_keys_;
  size_t rollup_heap_bytes_ = 0;         // heap owned by rollups (histograms, status lists)
  std::vector<LastRollup> last_rollup_;  // series id -> rollup in its latest slot
  std::map<int64_t, DayTop> slow_;
  int64_t slow_day_ = INT64_MIN;
  DayTop* slow_top_ = nullptr;
  size_t slow_bytes_ = 0;
  uint64_t lines_ = 0;
};

}  // namespace apimeter

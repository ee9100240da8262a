// Aggregator: the in-memory pre-aggregator between the parser and the sink.
//
// Promise: every request is counted at its own timestamp (UTC; out-of-order
// lines are fine) in five series (named as in docs/redis-schema.md):
//   - all, host (options.host), endpoint and customer: per minute
//     (floor(time_us / 60 s)); TakeBatch hands over these minute deltas plus
//     hour and day deltas that are exact sums of them;
//   - customer × endpoint (name customer + '\x1f' + endpoint): per UTC day
//     only (floor(time_us / 86400 s)); TakeBatch hands over only day deltas,
//     with the first and last minute of a request (Rollup first/last seen).
//     Reports and cost attribution work per day, and per-minute pairs would
//     be almost one new series per line.
//   - client, client × endpoint and customer × client (issue 18 part 2): per
//     UTC day only, for the lines that carry a client (aggregator/client_cells.h:
//     at most max_clients names and max_client_pairs pair cells held).
// TakeBatch also hands over the slowest requests of each UTC day (at most
// slow_top_n per day), then leaves the aggregator empty. Output order is
// deterministic: series sorted by (tier, bucket, kind, name), slow requests
// by (day, latency desc, time, ...).
//
// Bounds: at most max_endpoints distinct endpoint names and max_customers
// customers are held between TakeBatch calls, and at most
// max_customer_endpoints (day, customer, endpoint) series; further names are
// counted as "other" (for a pair: customer "other" × that endpoint). A name
// that is empty, longer than kMaxNameBytes or holds a control character is
// also counted as "other" (the normalizer and resolver never produce one).
// MemoryBytes() is an honest O(1) estimate of everything held, so callers can
// flush or pause when it passes their limit (it grows with minutes × series,
// which the caps bound per minute; the last few lines added may not be in it
// yet, see PendingLine).
//
// Cost (docs/aggregation.md): Add is a few array lookups and three small
// hash-table probes; each touched series is one 128-byte block until it gets
// busy, and the loads of a line are started a few lines ahead. TakeBatch
// sorts integer keys, not strings (names are ranked once).
//
// Not thread-safe: one aggregator per pipeline thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aggregator/client_cells.h"
#include "aggregator/compact_rollup.h"
#include "aggregator/flat_tables.h"
#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "common/defaults.h"
#include "common/log_record.h"

namespace apimeter {

struct AggregatorOptions {
  std::string host;                         // this agent's host name
  // distinct endpoint names held between TakeBatch calls (the agent passes limits.*_per_day)
  int64_t max_endpoints = defaults::kEndpointsPerDay;
  int64_t max_customers = defaults::kCustomersPerDay;  // same for customers
  int64_t max_customer_endpoints = 200000;  // (day, customer, endpoint) series held
  int64_t slow_top_n = defaults::kSlowTopN;  // slowest requests kept per UTC day
  int64_t max_clients = 1000;                // client names held (limits.clients_per_day)
  int64_t max_client_pairs = 200000;         // client × endpoint and customer × client cells held
};

class Aggregator {
 public:
  static constexpr std::string_view kOther = "other";
  static constexpr size_t kMaxNameBytes = 256;

  explicit Aggregator(AggregatorOptions options);

  // Counts one parsed request in the minute (and, for the pair, the day) of
  // record.time_us and offers it as a slow-request candidate (when it has a
  // latency). `client` is the reduced user agent (parsers/client_agent.h),
  // or null when the source does not log $http_user_agent (no client series).
  void Add(const LogRecord& record, std::string_view endpoint, std::string_view customer,
           const std::string_view* client = nullptr);
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
  // A minute cell's key is slot << 32 | tag << 30 | name id (ids < 2^30).
  // The host series always equals the all series in one aggregator, so it
  // has no cells of its own; TakeBatch emits a copy.
  enum KindTag : uint32_t { kTagAll = 0, kTagEndpoint = 2, kTagCustomer = 3 };

  // The minute cell a series used last. Lines arrive mostly in time order,
  // so this direct array (indexed by name id) answers most lookups without
  // hashing.
  struct LastCell {
    uint32_t slot = kNone;
    uint32_t cell = kNone;
  };
  // Interned names of one kind, with the minute cell each used last.
  struct Names {
    aggregator_internal::NameTable table;
    std::vector<LastCell> last;  // by name id
    uint32_t other = kNone;      // id of "other", once interned
    int64_t cap = 0;             // names other than "other" held at most
  };
  struct CeKey {
    int64_t day;
    uint32_t customer, endpoint;
  };
  // First and last minute of its UTC day with a request, per ce cell (a
  // dense array beside the cells: 4 bytes, 16 cells per cache line).
  struct CeSeen {
    uint16_t first = UINT16_MAX, last = 0;
  };
  struct DayTop {
    std::vector<SlowRequest> heap;  // min-heap by "slowness", size <= slow_top_n
    int64_t threshold = -1;         // when full, a candidate must beat this latency
  };
  class Emitter;  // TakeBatch's ordering and hour/day accumulation (aggregator.cpp)

  // A line between Add and the update of its cells. Add runs a software
  // pipeline: each call starts the memory loads a line will need (table
  // slot, then cell, then heap part, then histogram memory) and applies the
  // line kApplyLag calls later, so the cache misses of ~kApplyLag lines
  // overlap instead of following each other. Cells are found in line order,
  // so caps admit the same names as without the pipeline.
  struct PendingLine {
    int64_t latency_us;
    uint64_t bytes_in, bytes_out;
    int64_t day;
    int status, bucket;
    uint16_t minute_of_day;
    uint32_t slot, endpoint, customer;
    uint32_t endpoint_cell, customer_cell, ce_cell;
    uint32_t client;  // ClientCells id; ClientCells::kNone: the line has no client
    ClientCells::Cells client_cells;
  };
  static constexpr uint64_t kFindLag = 6, kSpillLag = 12, kBucketLag = 18, kApplyLag = 24;
  static constexpr uint64_t kPipelineSlots = 32;  // > kApplyLag, power of two

  void SetMinute(int64_t time_us);
  uint32_t Intern(Names& names, std::string_view name);
  uint32_t InternOther(Names& names);
  uint32_t MinuteCell(KindTag tag, uint32_t id, LastCell& last, uint32_t slot);
  uint32_t CeCell(int64_t day, uint32_t customer, uint32_t endpoint);
  PendingLine& Pending(uint64_t line) { return pending_[line % kPipelineSlots]; }
  void Advance();
  void FindCells(PendingLine& p);
  void Apply(const PendingLine& p);
  void Drain();
  void OfferSlow(const LogRecord& record, uint32_t endpoint, uint32_t customer);
  void Reset();
  std::vector<SeriesDelta> TakeClientDays();

  AggregatorOptions options_;
  Names endpoints_, customers_;
  LastCell all_last_;
  // Minutes seen in this batch: slot -> minute number, and back.
  std::vector<int64_t> minutes_;
  std::unordered_map<int64_t, uint32_t> minute_slots_;
  // The current minute [minute_first_us_, minute_last_us_] (clamped to the
  // int64 range), its slot and its UTC day: a line in the same minute as the
  // previous one costs two comparisons.
  int64_t minute_first_us_ = 0, minute_last_us_ = -1;
  uint32_t slot_ = kNone;
  int64_t day_ = 0;
  uint16_t minute_of_day_ = 0;
  aggregator_internal::U64Map minute_index_;  // minute cell key -> cell
  aggregator_internal::ChunkedPool<aggregator_internal::CompactRollup> minute_cells_;
  std::vector<uint64_t> minute_keys_;         // cell -> minute cell key
  aggregator_internal::DayPairMap ce_index_;  // (day, customer << 32 | endpoint) -> cell
  aggregator_internal::ChunkedPool<aggregator_internal::CompactRollup> ce_cells_;
  std::vector<CeKey> ce_keys_;  // cell -> key
  std::vector<CeSeen> ce_seen_;  // cell -> first and last minute of the day
  uint32_t ce_admitted_ = 0;    // ce cells of real customers, counted against the cap
  size_t heap_bytes_ = 0;       // heap owned by cells (spilled statuses and histograms)
  ClientCells clients_;
  std::map<int64_t, DayTop> slow_;
  int64_t slow_day_ = INT64_MIN;
  DayTop* slow_top_ = nullptr;
  size_t slow_bytes_ = 0;
  uint64_t lines_ = 0;
  PendingLine pending_[kPipelineSlots] = {};
  uint64_t pushed_ = 0;  // lines that entered the pipeline since the last TakeBatch
};

}  // namespace apimeter

// SeriesStore: the reads QueryEngine makes against a storage schema — the
// rollups of series over bucket runs, the top names of an index, and the
// slow-request sets — so that one engine (planning, JSON) answers from
// either schema: v1 hashes and sorted sets (docs/redis-schema.md) or v2
// blocks (docs/storage-v2.md "Reading").
//
// Promise (both implementations):
// - ReadRollups adds into (*out)[read.group] the exact rollup of
//   series[read.series] in each read's (tier, bucket); a series that has no
//   data there adds nothing. With with_max the latency max is included (v1
//   reads it from the max sorted sets; v2 has it in every block, so v2
//   always includes it). requests_only series need only `requests` right.
// - TopNames answers the `limit` names with the most requests summed over
//   every bucket of `runs` (ties by name ascending), each with its exact
//   sum; names whose sum is 0 are left out. `customer` non-empty: the
//   endpoints of that customer (day tier runs only).
// - ReadSlow calls `each` for every slow request stored for the UTC days
//   [first_day, last_day) (at most kMaxSlowPerDay per day) and counts
//   members it cannot decode in *malformed.
// - Damage (v2): a block that fails its checks (checksum, decode, shape, an
//   id its day's registry does not know) is left out of the answer, its key
//   added to *damage, and logged once per key; the rest of the answer is
//   still given. Errors (Status) are for Redis trouble and replies of the
//   wrong shape, as before: Unavailable, Internal or ParseError.
// - CheckSchema is called by the engine before its first read, until it
//   succeeds: v2 checks the schema marker read-only (never writes it) and
//   refuses, naming `apimeter migrate`, when the data is v1's.
// Thread-safety: a store drives one Redis client and has one owner (one per
// QueryEngine, one engine per thread). The v2 block cache it is given is
// shared between threads (sink/block_cache.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aggregator/rollup.h"
#include "common/clock.h"
#include "common/result.h"
#include "query/range_plan.h"
#include "query/top_n.h"
#include "sink/block_cache.h"
#include "sink/block_keys.h"
#include "sink/redis_client.h"
#include "sink/schema.h"

namespace apimeter {

// A series a query reads: all, host, endpoint, customer or customer ×
// endpoint (name as in SeriesDelta).
struct FilterSeries {
  SeriesKind kind;
  std::string name;
  // Only the request count is needed (v1 reads HGET n, not the whole hash):
  // for totals that are only a denominator. The other fields of its Rollup
  // may stay 0.
  bool requests_only = false;
};

// One (series, bucket) whose rollup adds into output `group`.
struct BucketRead {
  size_t group;
  size_t series;
  Tier tier;
  int64_t bucket;
};

// Appends one read per bucket of `runs` for (group, series).
void AppendReads(size_t group, size_t series, const std::vector<BucketRun>& runs,
                 std::vector<BucketRead>* reads);

// The keys of blocks left out of an answer because they failed their checks.
using ReadDamage = std::set<std::string>;

// One customer's traffic on one endpoint in one UTC day: the customer ×
// endpoint series of that day (first/last seen minutes included where the
// blocks know them, see Rollup).
using EndpointCustomerFn =
    std::function<Status(int64_t day, const std::string& customer, Rollup&& rollup)>;

// One client's traffic in one UTC day (issue 18 part 2): the client series
// (kind u), or its client × endpoint (v) or customer × client (w) series.
using ClientFn =
    std::function<Status(int64_t day, const std::string& client, Rollup&& rollup)>;
// Which client series ForEachClient reads: all clients, or those of one
// endpoint or one customer (at most one of the two is set).
struct ClientScope {
  std::string endpoint;
  std::string customer;
};

// What a store did, for tests and benchmarks (cumulative).
struct SeriesStoreStats {
  uint64_t round_trips = 0;    // pipelines sent
  uint64_t groups_read = 0;    // v2: group reads (MULTI..EXEC), rereads included
  uint64_t rereads = 0;        // v2: groups read again because the cached base was stale
  uint64_t blocks_read = 0;    // v2: list elements received
  uint64_t bytes_read = 0;     // v2: their bytes
  uint64_t bases_cached = 0;   // v2: bases taken from the cache instead of Redis
  uint64_t damaged_blocks = 0; // v2: blocks left out
  uint64_t dictionary_reads = 0;  // v2: registry dictionaries read
};

class SeriesStore {
 public:
  // Slow-request sets are trimmed to slow_top_n by the writer; this caps
  // what a reader takes from one day even if a set was never trimmed.
  static constexpr int64_t kMaxSlowPerDay = 10000;

  virtual ~SeriesStore() = default;

  virtual Status CheckSchema(int64_t now_s, const RetentionSeconds& retention) = 0;
  virtual Status ReadRollups(const std::vector<FilterSeries>& series,
                             const std::vector<BucketRead>& reads, bool with_max,
                             std::vector<Rollup>* out, ReadDamage* damage) = 0;
  virtual Result<std::vector<ScoredName>> TopNames(const std::vector<BucketRun>& runs,
                                                   IndexKind index, const std::string& customer,
                                                   size_t limit, TopNStats* stats,
                                                   ReadDamage* damage) = 0;
  virtual Status ReadSlow(int64_t first_day, int64_t last_day,
                          const std::function<void(SlowRequest&&)>& each,
                          uint64_t* malformed) = 0;
  virtual SeriesStoreStats stats() const = 0;
  // The customers of one endpoint (issue 18): each() once per (UTC day of a
  // day-tier bucket of `runs`, customer) with requests on `endpoint`; runs
  // of other tiers are skipped. v2 reads every shard of the day's kind-x
  // groups (they are sharded by customer); v1 has no such index and
  // answers InvalidArgument saying so. An error from each() ends the read.
  virtual Status ForEachEndpointCustomer(const std::vector<BucketRun>& runs,
                                         const std::string& endpoint,
                                         const EndpointCustomerFn& each, ReadDamage* damage);
  // The clients of the day-tier buckets of `runs` (issue 18 part 2): each()
  // once per (day, client) with requests in `scope`. *logged is set when any
  // client series (kind u) exists in those days, whatever the scope: the
  // dimension was logged there. v1 keeps no client series: the default
  // answers Ok with *logged false.
  virtual Status ForEachClient(const std::vector<BucketRun>& runs, const ClientScope& scope,
                               const ClientFn& each, bool* logged, ReadDamage* damage);
};

// v1: hashes per series and bucket, sorted-set indexes (SummedTopN) and max
// sets. The client must outlive the store.
std::unique_ptr<SeriesStore> MakeV1SeriesStore(RedisCommands* client, KeySchema schema);

struct V2StoreOptions {
  // Pipelined group reads per round trip (4 commands each): bounds the
  // blocks held at once.
  size_t groups_per_round_trip = 32;
  // Days of registry dictionaries kept (each at most the day's limits).
  size_t max_dictionary_days = 32;
  // Where a damaged block is reported (once per key per store); null: spdlog.
  std::function<void(const std::string&)> log_warning;
};

// v2: blocks (sink/block_reader.h), bases cached decoded in `cache` (shared
// with other threads' stores; required), names from the day registries.
// The client must outlive the store.
std::unique_ptr<SeriesStore> MakeV2SeriesStore(RedisCommands* client, BlockKeys keys,
                                               std::shared_ptr<BlockCache> cache,
                                               V2StoreOptions options = {});

// The default capacity of the shared block cache.
inline constexpr size_t kDefaultBlockCacheBytes = size_t{64} << 20;

// The store of redis.schema `schema` (1 or 2) under `prefix`; for 2, `cache`
// may be null (the store then has a cache of its own).
std::unique_ptr<SeriesStore> MakeSeriesStore(int64_t schema, RedisCommands* client,
                                             const std::string& prefix,
                                             std::shared_ptr<BlockCache> cache);

}  // namespace apimeter

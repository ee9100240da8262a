// DecodedBlock: the typed, in-memory form of one storage-v2 block — every
// series of one group (kind, tier, bucket, shard) — as docs/storage-v2.md
// "Block format" defines it. The binary form is in sink/block_codec.h.
//
// Promise: a block is a struct of arrays, one entry per series in strictly
// ascending key order: flat columns of counters, plus flat status and
// histogram arrays addressed by per-series offsets. Readers that scan one
// column (requests, for top-N) touch only that array; RollupAt builds the
// full Rollup of one series on demand. Validate() states every invariant a
// stored block keeps; the encoder refuses a block that fails it and the
// decoder returns only blocks that pass it. Building appends series in key
// order with no allocation per series.
//
// Thread-safety: a value type. Const methods may run on many threads at once
// (the block cache shares const blocks); mutation needs one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aggregator/flush_batch.h"
#include "aggregator/rollup.h"
#include "common/status.h"

namespace apimeter {

namespace block_internal {

// A std::allocator whose value-less construct() default-initializes, so that
// resize() leaves new integers unwritten: the decoder sizes each column once
// and overwrites every element (writing zeros first cost ~10% of a decode).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}  // NOLINT: rebinding
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
template <typename T>
using Column = std::vector<T, DefaultInitAllocator<T>>;

}  // namespace block_internal

// The kind of series a block holds; the value is the letter in keys and headers.
enum class BlockKind : uint8_t {
  kAll = 'a',               // the all series and one per host
  kEndpoint = 'e',          // one per endpoint
  kCustomer = 'c',          // one per customer
  kCustomerEndpoint = 'x',  // one per (customer, endpoint) pair; day tier
  // The client dimension (issue 18 part 2); day tier only.
  kClient = 'u',          // one per client (reduced user agent)
  kClientEndpoint = 'v',  // one per (client, endpoint) pair
  kCustomerClient = 'w',  // one per (customer, client) pair
};
// Kinds whose key is a pair of ids (PairKey): two key varints in a block.
constexpr bool IsPairKind(BlockKind k) {
  return k == BlockKind::kCustomerEndpoint || k == BlockKind::kClientEndpoint ||
         k == BlockKind::kCustomerClient;
}
// Kinds kept in the day tier only.
constexpr bool IsDayOnlyKind(BlockKind k) {
  return k == BlockKind::kCustomerEndpoint || k == BlockKind::kClient ||
         k == BlockKind::kClientEndpoint || k == BlockKind::kCustomerClient;
}
constexpr char BlockKindLetter(BlockKind k) { return static_cast<char>(k); }
std::optional<BlockKind> BlockKindFromLetter(char letter);
std::optional<Tier> TierFromLetter(char letter);

// A series' key: a registry id for kinds e and c; for kind a, 0 = the all
// series and host id + 1 for a host (so a host numbered 0 = "other" never
// collides with all); for kind x, customer id << 32 | endpoint id; for kind
// u a client id; for kind v, client id << 32 | endpoint id; for kind w,
// customer id << 32 | client id. Ids are below 2^32, so every key of kinds
// a, e, c and u is at most kMaxIdKey.
using SeriesKey = uint64_t;
inline constexpr SeriesKey kMaxIdKey = 0xFFFFFFFFu;
inline constexpr SeriesKey kAllSeriesKey = 0;
constexpr SeriesKey HostSeriesKey(uint32_t host_id) { return SeriesKey{host_id} + 1; }
constexpr SeriesKey PairKey(uint32_t customer_id, uint32_t endpoint_id) {
  return SeriesKey{customer_id} << 32 | endpoint_id;
}
constexpr uint32_t PairCustomer(SeriesKey key) { return static_cast<uint32_t>(key >> 32); }
constexpr uint32_t PairEndpoint(SeriesKey key) { return static_cast<uint32_t>(key); }

// A series' first/last seen minute when the block does not know it.
inline constexpr uint16_t kSeenUnknown = 0xFFFF;
// Minutes in one bucket of a tier: the bound of a seen offset.
constexpr int64_t MinutesPerBucket(Tier t) { return TierSeconds(t) / 60; }

// Largest status code a block holds (statuses are three digits).
inline constexpr int kMaxStatusCode = 999;

// What a block belongs to: its Redis list is P:{T<bucket>.<shard>}:<kind>.
struct BlockGroup {
  BlockKind kind = BlockKind::kAll;
  Tier tier = Tier::kMinute;
  int64_t bucket = 0;
  uint16_t shard = 0;
  friend bool operator==(const BlockGroup&, const BlockGroup&) = default;
};
// "m29400123.0:c", for messages.
std::string DescribeGroup(const BlockGroup& group);

// The scalar counters of one series (Rollup without statuses and histogram).
struct SeriesCounters {
  uint64_t requests = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t latency_count = 0;
  uint64_t latency_sum_us = 0;
  int64_t latency_max_us = -1;  // -1: no latency
  uint64_t rejected = 0;        // kind a only
  // First and last minute with a request, as offsets from the bucket's first
  // minute (blocks with seen columns; kSeenUnknown: not known).
  uint16_t seen_first = kSeenUnknown, seen_last = kSeenUnknown;
  friend bool operator==(const SeriesCounters&, const SeriesCounters&) = default;
};

// A series to build a block from: its key and a Rollup the caller keeps alive.
struct KeyedRollup {
  SeriesKey key = 0;
  const Rollup* rollup = nullptr;
};

class DecodedBlock {
 public:
  DecodedBlock() { Reset({}, false); }
  DecodedBlock(const BlockGroup& group, bool base) { Reset(group, base); }

  // Empties the block (keeping capacity) and sets its group.
  void Reset(const BlockGroup& group, bool base);

  const BlockGroup& group() const { return group_; }
  // A base is a compacted block (list element 0); a delta comes from a flush.
  bool base() const { return base_; }
  void set_base(bool base) { base_ = base; }

  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }

  // Columns, one entry per series, in key order.
  std::span<const SeriesKey> keys() const { return keys_; }
  std::span<const uint64_t> requests() const { return requests_; }
  std::span<const uint64_t> bytes_in() const { return bytes_in_; }
  std::span<const uint64_t> bytes_out() const { return bytes_out_; }
  std::span<const uint64_t> latency_count() const { return latency_count_; }
  std::span<const uint64_t> latency_sum_us() const { return latency_sum_us_; }
  std::span<const int64_t> latency_max_us() const { return latency_max_us_; }
  uint64_t rejected(size_t i) const { return rejected_.empty() ? 0 : rejected_[i]; }
  // Seen columns (optional, issue 18): the first and last minute of series
  // i with a request, as offsets from the bucket's first minute, or
  // kSeenUnknown. Blocks without them (has_seen() false) know no minute.
  bool has_seen() const { return has_seen_; }
  uint16_t seen_first(size_t i) const { return has_seen_ ? seen_first_[i] : kSeenUnknown; }
  uint16_t seen_last(size_t i) const { return has_seen_ ? seen_last_[i] : kSeenUnknown; }
  // Gives the block seen columns; call on an empty block, before appending.
  void EnableSeen() { has_seen_ = true; }

  // Statuses of series i, codes strictly ascending, counts > 0.
  std::span<const uint16_t> StatusCodes(size_t i) const {
    return {status_codes_.data() + status_offsets_[i], StatusEnd(i) - status_offsets_[i]};
  }
  std::span<const uint64_t> StatusCounts(size_t i) const {
    return {status_counts_.data() + status_offsets_[i], StatusEnd(i) - status_offsets_[i]};
  }
  // Non-empty histogram buckets of series i, indexes strictly ascending.
  std::span<const uint16_t> BucketIndexes(size_t i) const {
    return {bucket_indexes_.data() + bucket_offsets_[i], BucketEnd(i) - bucket_offsets_[i]};
  }
  std::span<const uint64_t> BucketCounts(size_t i) const {
    return {bucket_counts_.data() + bucket_offsets_[i], BucketEnd(i) - bucket_offsets_[i]};
  }
  size_t total_statuses() const { return status_codes_.size(); }
  size_t total_buckets() const { return bucket_indexes_.size(); }

  SeriesCounters CountersAt(size_t i) const;
  // The full Rollup of series i (statuses in ascending code order).
  Rollup RollupAt(size_t i) const;
  // The index of `key`, by binary search.
  std::optional<size_t> Find(SeriesKey key) const;

  // Heap bytes (capacity) plus the object itself; O(1). What the cache charges.
  size_t MemoryBytes() const;

  // Building: series are appended in ascending key order, each followed by
  // its statuses and buckets (ascending). Nothing is checked here; Validate
  // says whether the result is a block the format can hold.
  void Reserve(size_t series, size_t statuses, size_t buckets);
  void AppendSeries(SeriesKey key, const SeriesCounters& counters);
  void AppendStatus(uint16_t code, uint64_t count) {
    status_codes_.push_back(code);
    status_counts_.push_back(count);
    ++status_offsets_.back();
  }
  void AppendBucket(uint16_t index, uint64_t count) {
    bucket_indexes_.push_back(index);
    bucket_counts_.push_back(count);
    ++bucket_offsets_.back();
  }
  // Copies series i of `from` (any group) to the end of this block.
  void AppendSeriesFrom(const DecodedBlock& from, size_t i);

  // Every invariant of a stored block: keys strictly ascending (at most
  // kMaxIdKey unless kind x); rejected only in kind a; status codes strictly
  // ascending in [0, kMaxStatusCode] with counts > 0 summing to requests;
  // bucket indexes strictly ascending in [0, LatencyHistogram::kMaxIndex]
  // with counts > 0 summing to latency_count; no latency (count 0) exactly
  // when latency max is -1, and then latency sum is 0; else latency sum >=
  // latency max; with seen columns, a series' first and last minute are
  // both kSeenUnknown or first <= last < MinutesPerBucket(tier). The error
  // names the series (by index and key) and what failed.
  Status Validate() const;

  // Same group, flag and series (capacity aside).
  friend bool operator==(const DecodedBlock& a, const DecodedBlock& b);

 private:
  friend class BlockDecoder;  // fills the columns in place

  size_t StatusEnd(size_t i) const { return status_offsets_[i + 1]; }
  size_t BucketEnd(size_t i) const { return bucket_offsets_[i + 1]; }

  BlockGroup group_;
  bool base_ = false;
  bool stray_rejected_ = false;  // a non-a series was appended with rejected != 0
  bool has_seen_ = false;
  template <typename T>
  using Column = block_internal::Column<T>;
  Column<SeriesKey> keys_;
  Column<uint64_t> requests_, bytes_in_, bytes_out_, latency_count_, latency_sum_us_;
  Column<int64_t> latency_max_us_;
  Column<uint64_t> rejected_;  // kind a only; empty otherwise
  Column<uint16_t> seen_first_, seen_last_;  // when has_seen_; empty otherwise
  // Series i's statuses are [status_offsets_[i], status_offsets_[i + 1]).
  Column<uint32_t> status_offsets_;
  Column<uint16_t> status_codes_;
  Column<uint64_t> status_counts_;
  Column<uint32_t> bucket_offsets_;
  Column<uint16_t> bucket_indexes_;
  Column<uint64_t> bucket_counts_;
};

// Builds the block of `series` (any order; equal keys are summed exactly).
// The block has seen columns when some series with requests knows its
// first/last seen minutes (Rollup::SeenKnown); a key's minutes are the min
// and max of its parts, unknown when a part with requests does not know its.
// Fails, naming the series, on a status code outside [0, kMaxStatusCode], a
// key the kind cannot hold, rejected outside kind a, a sum that overflows
// 64 bits, or counts that are not consistent (see Validate).
Status BuildBlock(const BlockGroup& group, bool base, std::span<const KeyedRollup> series,
                  DecodedBlock* out);

}  // namespace apimeter

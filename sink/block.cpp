#include "sink/block.h"

#include <algorithm>
#include <utility>

namespace apimeter {
namespace {

std::string DescribeKey(BlockKind kind, SeriesKey key) {
  if (IsPairKind(kind)) {
    return "(" + std::to_string(PairCustomer(key)) + ", " + std::to_string(PairEndpoint(key)) + ")";
  }
  return std::to_string(key);
}

Status SeriesError(StatusCode code, const BlockGroup& group, size_t i, SeriesKey key,
                   const std::string& what) {
  return Status(code, "block " + DescribeGroup(group) + ": series " + std::to_string(i) + " (key " +
                          DescribeKey(group.kind, key) + "): " + what);
}

// a += b, false on overflow.
bool AddTo(uint64_t& a, uint64_t b) { return !__builtin_add_overflow(a, b, &a); }

template <typename T>
size_t CapacityBytes(const block_internal::Column<T>& v) {
  return v.capacity() * sizeof(T);
}

}  // namespace

std::optional<BlockKind> BlockKindFromLetter(char letter) {
  switch (letter) {
    case 'a':
      return BlockKind::kAll;
    case 'e':
      return BlockKind::kEndpoint;
    case 'c':
      return BlockKind::kCustomer;
    case 'x':
      return BlockKind::kCustomerEndpoint;
    case 'u':
      return BlockKind::kClient;
    case 'v':
      return BlockKind::kClientEndpoint;
    case 'w':
      return BlockKind::kCustomerClient;
    default:
      return std::nullopt;
  }
}

std::optional<Tier> TierFromLetter(char letter) {
  for (Tier t : {Tier::kMinute, Tier::kHour, Tier::kDay}) {
    if (TierLetter(t) == letter) return t;
  }
  return std::nullopt;
}

std::string DescribeGroup(const BlockGroup& group) {
  std::string s(1, TierLetter(group.tier));
  s += std::to_string(group.bucket);
  s += '.';
  s += std::to_string(group.shard);
  s += ':';
  s += BlockKindLetter(group.kind);
  return s;
}

void DecodedBlock::Reset(const BlockGroup& group, bool base) {
  group_ = group;
  base_ = base;
  stray_rejected_ = false;
  has_seen_ = false;
  seen_first_.clear();
  seen_last_.clear();
  keys_.clear();
  requests_.clear();
  bytes_in_.clear();
  bytes_out_.clear();
  latency_count_.clear();
  latency_sum_us_.clear();
  latency_max_us_.clear();
  rejected_.clear();
  status_offsets_.assign(1, 0);
  status_codes_.clear();
  status_counts_.clear();
  bucket_offsets_.assign(1, 0);
  bucket_indexes_.clear();
  bucket_counts_.clear();
}

void DecodedBlock::Reserve(size_t series, size_t statuses, size_t buckets) {
  keys_.reserve(series);
  requests_.reserve(series);
  bytes_in_.reserve(series);
  bytes_out_.reserve(series);
  latency_count_.reserve(series);
  latency_sum_us_.reserve(series);
  latency_max_us_.reserve(series);
  if (group_.kind == BlockKind::kAll) rejected_.reserve(series);
  if (has_seen_) {
    seen_first_.reserve(series);
    seen_last_.reserve(series);
  }
  status_offsets_.reserve(series + 1);
  bucket_offsets_.reserve(series + 1);
  status_codes_.reserve(statuses);
  status_counts_.reserve(statuses);
  bucket_indexes_.reserve(buckets);
  bucket_counts_.reserve(buckets);
}

void DecodedBlock::AppendSeries(SeriesKey key, const SeriesCounters& c) {
  keys_.push_back(key);
  requests_.push_back(c.requests);
  bytes_in_.push_back(c.bytes_in);
  bytes_out_.push_back(c.bytes_out);
  latency_count_.push_back(c.latency_count);
  latency_sum_us_.push_back(c.latency_sum_us);
  latency_max_us_.push_back(c.latency_max_us);
  if (group_.kind == BlockKind::kAll) {
    rejected_.push_back(c.rejected);
  } else if (c.rejected != 0) {
    stray_rejected_ = true;
  }
  if (has_seen_) {
    seen_first_.push_back(c.seen_first);
    seen_last_.push_back(c.seen_last);
  }
  status_offsets_.push_back(status_offsets_.back());
  bucket_offsets_.push_back(bucket_offsets_.back());
}

void DecodedBlock::AppendSeriesFrom(const DecodedBlock& from, size_t i) {
  AppendSeries(from.keys_[i], from.CountersAt(i));
  const auto codes = from.StatusCodes(i);
  const auto counts = from.StatusCounts(i);
  status_codes_.insert(status_codes_.end(), codes.begin(), codes.end());
  status_counts_.insert(status_counts_.end(), counts.begin(), counts.end());
  status_offsets_.back() += static_cast<uint32_t>(codes.size());
  const auto indexes = from.BucketIndexes(i);
  const auto bcounts = from.BucketCounts(i);
  bucket_indexes_.insert(bucket_indexes_.end(), indexes.begin(), indexes.end());
  bucket_counts_.insert(bucket_counts_.end(), bcounts.begin(), bcounts.end());
  bucket_offsets_.back() += static_cast<uint32_t>(indexes.size());
}

SeriesCounters DecodedBlock::CountersAt(size_t i) const {
  SeriesCounters c;
  c.requests = requests_[i];
  c.bytes_in = bytes_in_[i];
  c.bytes_out = bytes_out_[i];
  c.latency_count = latency_count_[i];
  c.latency_sum_us = latency_sum_us_[i];
  c.latency_max_us = latency_max_us_[i];
  c.rejected = rejected(i);
  c.seen_first = seen_first(i);
  c.seen_last = seen_last(i);
  return c;
}

Rollup DecodedBlock::RollupAt(size_t i) const {
  Rollup r;
  r.requests = requests_[i];
  r.bytes_in = bytes_in_[i];
  r.bytes_out = bytes_out_[i];
  r.latency_count = latency_count_[i];
  r.latency_sum_us = latency_sum_us_[i];
  r.latency_max_us = latency_max_us_[i];
  r.rejected = rejected(i);
  if (seen_first(i) != kSeenUnknown) {
    const int64_t first_minute = group_.bucket * MinutesPerBucket(group_.tier);
    r.first_seen_minute = first_minute + seen_first(i);
    r.last_seen_minute = first_minute + seen_last(i);
  }
  const auto codes = StatusCodes(i);
  const auto counts = StatusCounts(i);
  r.status_counts.reserve(codes.size());
  for (size_t j = 0; j < codes.size(); ++j) r.status_counts.emplace_back(codes[j], counts[j]);
  const auto indexes = BucketIndexes(i);
  const auto bcounts = BucketCounts(i);
  r.histogram.Reserve(indexes.size());
  for (size_t j = 0; j < indexes.size(); ++j) r.histogram.AddBucket(indexes[j], bcounts[j]);
  return r;
}

std::optional<size_t> DecodedBlock::Find(SeriesKey key) const {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), key);
  if (it == keys_.end() || *it != key) return std::nullopt;
  return static_cast<size_t>(it - keys_.begin());
}

size_t DecodedBlock::MemoryBytes() const {
  return sizeof(*this) + CapacityBytes(keys_) + CapacityBytes(requests_) +
         CapacityBytes(bytes_in_) + CapacityBytes(bytes_out_) + CapacityBytes(latency_count_) +
         CapacityBytes(latency_sum_us_) + CapacityBytes(latency_max_us_) +
         CapacityBytes(rejected_) + CapacityBytes(seen_first_) + CapacityBytes(seen_last_) +
         CapacityBytes(status_offsets_) + CapacityBytes(status_codes_) +
         CapacityBytes(status_counts_) + CapacityBytes(bucket_offsets_) +
         CapacityBytes(bucket_indexes_) + CapacityBytes(bucket_counts_);
}

namespace {

// Checks the status (or histogram) lists of every series: ids strictly
// ascending and at most max_id, counts > 0 summing to totals[i]. A tight
// pass; the message is worked out only for a series that fails.
template <typename Offsets, typename Ids, typename Counts, typename Totals>
Status ValidateLists(const BlockGroup& group, std::span<const SeriesKey> keys,
                     const Offsets& offsets, const Ids& ids, const Counts& counts,
                     const Totals& totals, int max_id, const char* item, const char* list,
                     const char* total_name) {
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    uint64_t total = 0;
    bool bad = false;
    int prev = -1;
    for (uint32_t j = offsets[i], end = offsets[i + 1]; j < end; ++j) {
      const int id = ids[j];
      const uint64_t count = counts[j];
      total += count;
      bad |= (id > max_id) | (id <= prev) | (count == 0) | (total < count);  // no branches
      prev = id;
    }
    if (!bad && total == totals[i]) continue;
    std::string why;
    total = 0;
    prev = -1;
    for (uint32_t j = offsets[i]; j < offsets[i + 1] && why.empty(); ++j) {
      const std::string id = std::to_string(ids[j]);
      if (ids[j] > max_id) {
        why = std::string(item) + " " + id + " out of range";
      } else if (ids[j] <= prev) {
        why = std::string(list) + " entries not strictly ascending";
      } else if (counts[j] == 0) {
        why = std::string(item) + " " + id + " with count 0";
      } else if (!AddTo(total, counts[j])) {
        why = std::string(list) + " counts overflow";
      }
      prev = ids[j];
    }
    if (why.empty()) {
      why = std::string(list) + " counts sum to " + std::to_string(total) + ", " + total_name +
            " " + std::to_string(totals[i]);
    }
    return SeriesError(StatusCode::kParseError, group, i, keys[i], why);
  }
  return Status::Ok();
}

}  // namespace

Status DecodedBlock::Validate() const {
  if (stray_rejected_) {
    return Status::ParseError("block " + DescribeGroup(group_) +
                              ": rejected lines in a series of kind other than a");
  }
  auto fail = [&](size_t i, const std::string& what) {
    return SeriesError(StatusCode::kParseError, group_, i, keys_[i], what);
  };
  const SeriesKey max_key = IsPairKind(group_.kind) ? ~SeriesKey{0} : kMaxIdKey;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (i > 0 && keys_[i] <= keys_[i - 1]) return fail(i, "keys not strictly ascending");
    if (keys_[i] > max_key) return fail(i, "key above 2^32 - 1");
  }
  for (size_t i = 0; i < keys_.size(); ++i) {
    const uint64_t count = latency_count_[i], sum = latency_sum_us_[i];
    const int64_t max = latency_max_us_[i];
    if ((count == 0) != (max < 0)) {
      return fail(
          i, "latency max " + std::to_string(max) + " with latency count " + std::to_string(count));
    }
    if (count == 0 && sum != 0) return fail(i, "latency sum without latency count");
    if (max >= 0 && sum < static_cast<uint64_t>(max)) {
      return fail(
          i, "latency sum " + std::to_string(sum) + " below latency max " + std::to_string(max));
    }
  }
  if (has_seen_) {
    const int64_t minutes = MinutesPerBucket(group_.tier);
    for (size_t i = 0; i < keys_.size(); ++i) {
      const uint16_t first = seen_first_[i], last = seen_last_[i];
      if (first == kSeenUnknown && last == kSeenUnknown) continue;
      if (first > last || last >= minutes) {
        return fail(i, "seen minutes " + std::to_string(first) + ".." + std::to_string(last) +
                           " outside the bucket's " + std::to_string(minutes));
      }
    }
  }
  APIMETER_RETURN_IF_ERROR(ValidateLists(group_, keys_, status_offsets_, status_codes_,
                                         status_counts_, requests_, kMaxStatusCode, "status code",
                                         "status", "requests are"));
  return ValidateLists(group_, keys_, bucket_offsets_, bucket_indexes_, bucket_counts_,
                       latency_count_, LatencyHistogram::kMaxIndex, "histogram index", "histogram",
                       "latency count is");
}

bool operator==(const DecodedBlock& a, const DecodedBlock& b) {
  return a.group_ == b.group_ && a.base_ == b.base_ && a.stray_rejected_ == b.stray_rejected_ &&
         a.has_seen_ == b.has_seen_ && a.seen_first_ == b.seen_first_ &&
         a.seen_last_ == b.seen_last_ &&
         a.keys_ == b.keys_ && a.requests_ == b.requests_ && a.bytes_in_ == b.bytes_in_ &&
         a.bytes_out_ == b.bytes_out_ && a.latency_count_ == b.latency_count_ &&
         a.latency_sum_us_ == b.latency_sum_us_ && a.latency_max_us_ == b.latency_max_us_ &&
         a.rejected_ == b.rejected_ && a.status_offsets_ == b.status_offsets_ &&
         a.status_codes_ == b.status_codes_ && a.status_counts_ == b.status_counts_ &&
         a.bucket_offsets_ == b.bucket_offsets_ && a.bucket_indexes_ == b.bucket_indexes_ &&
         a.bucket_counts_ == b.bucket_counts_;
}

namespace {

// Sums the rollups of one key (a run of equal keys) into `out`, statuses and
// buckets sorted and coalesced. Scratch vectors are reused across calls.
class SeriesGatherer {
 public:
  Status Gather(std::span<const Rollup* const> rollups, SeriesCounters* out) {
    statuses_.clear();
    buckets_.clear();
    seen_unknown_ = false;
    first_ = Rollup::kNoMinute;
    last_ = INT64_MIN;
    *out = SeriesCounters{};
    bool overflow = false;
    for (const Rollup* r : rollups) {
      overflow |= !AddTo(out->requests, r->requests);
      overflow |= !AddTo(out->bytes_in, r->bytes_in);
      overflow |= !AddTo(out->bytes_out, r->bytes_out);
      overflow |= !AddTo(out->latency_count, r->latency_count);
      overflow |= !AddTo(out->latency_sum_us, r->latency_sum_us);
      overflow |= !AddTo(out->rejected, r->rejected);
      out->latency_max_us = std::max(out->latency_max_us, r->latency_max_us);
      for (const auto& [code, n] : r->status_counts) {
        if (code < 0 || code > kMaxStatusCode) {
          return Status::InvalidArgument("status code " + std::to_string(code) +
                                         " outside [0, 999]");
        }
        if (n != 0) statuses_.emplace_back(static_cast<uint16_t>(code), n);
      }
      r->histogram.ForEachBucket(
          [&](int index, uint64_t n) { buckets_.emplace_back(static_cast<uint16_t>(index), n); });
      if (r->requests == 0) continue;
      seen_unknown_ |= !r->SeenKnown();
      first_ = std::min(first_, r->first_seen_minute);
      last_ = std::max(last_, r->last_seen_minute);
    }
    if (overflow) return Status::InvalidArgument("a counter's sum overflows 64 bits");
    if (!Coalesce(statuses_,
                  rollups.size() > 1 || !std::is_sorted(statuses_.begin(), statuses_.end()))) {
      return Status::InvalidArgument("status counts overflow 64 bits");
    }
    if (!Coalesce(buckets_, rollups.size() > 1)) {
      return Status::InvalidArgument("histogram counts overflow 64 bits");
    }
    return Status::Ok();
  }
  // The key's first/last seen minutes (epoch minutes; Rollup::Merge's
  // rule: unknown when a part with requests does not know its own).
  bool seen_known() const { return !seen_unknown_ && first_ <= last_; }
  int64_t first_seen() const { return first_; }
  int64_t last_seen() const { return last_; }
  const std::vector<std::pair<uint16_t, uint64_t>>& statuses() const { return statuses_; }
  const std::vector<std::pair<uint16_t, uint64_t>>& buckets() const { return buckets_; }

 private:
  // Sorts (if asked) and adds up the counts of equal codes; false on overflow.
  static bool Coalesce(std::vector<std::pair<uint16_t, uint64_t>>& v, bool sort) {
    if (sort) {
      std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    size_t w = 0;
    for (size_t r = 0; r < v.size(); ++r) {
      if (w > 0 && v[w - 1].first == v[r].first) {
        if (!AddTo(v[w - 1].second, v[r].second)) return false;
      } else {
        v[w++] = v[r];
      }
    }
    v.resize(w);
    return true;
  }

  std::vector<std::pair<uint16_t, uint64_t>> statuses_, buckets_;
  bool seen_unknown_ = false;
  int64_t first_ = Rollup::kNoMinute, last_ = INT64_MIN;
};

// A key's seen minutes as offsets within the group's bucket.
Status SeenOffsets(const BlockGroup& group, const SeriesGatherer& seen, SeriesCounters* c) {
  if (!seen.seen_known()) return Status::Ok();
  const int64_t first_minute = group.bucket * MinutesPerBucket(group.tier);
  const int64_t first = seen.first_seen() - first_minute;
  const int64_t last = seen.last_seen() - first_minute;
  if (first < 0 || last >= MinutesPerBucket(group.tier)) {
    return Status::InvalidArgument("seen minutes " + std::to_string(seen.first_seen()) + ".." +
                                   std::to_string(seen.last_seen()) + " outside the bucket");
  }
  c->seen_first = static_cast<uint16_t>(first);
  c->seen_last = static_cast<uint16_t>(last);
  return Status::Ok();
}

}  // namespace

Status BuildBlock(const BlockGroup& group, bool base, std::span<const KeyedRollup> series,
                  DecodedBlock* out) {
  out->Reset(group, base);
  std::vector<std::pair<SeriesKey, const Rollup*>> order;
  order.reserve(series.size());
  size_t statuses = 0, buckets = 0;
  for (const KeyedRollup& s : series) {
    order.emplace_back(s.key, s.rollup);
    statuses += s.rollup->status_counts.size();
    buckets += static_cast<size_t>(s.rollup->histogram.NonEmptyBuckets());
  }
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (std::any_of(series.begin(), series.end(), [](const KeyedRollup& s) {
        return s.rollup->requests > 0 && s.rollup->SeenKnown();
      })) {
    out->EnableSeen();
  }
  out->Reserve(order.size(), statuses, buckets);

  SeriesGatherer gather;
  std::vector<const Rollup*> run;
  for (size_t i = 0; i < order.size();) {
    const SeriesKey key = order[i].first;
    run.clear();
    for (; i < order.size() && order[i].first == key; ++i) run.push_back(order[i].second);
    SeriesCounters counters;
    Status st = gather.Gather(run, &counters);
    if (st.ok() && out->has_seen()) st = SeenOffsets(group, gather, &counters);
    if (!st.ok()) {
      return SeriesError(StatusCode::kInvalidArgument, group, out->size(), key, st.message());
    }
    out->AppendSeries(key, counters);
    for (const auto& [code, n] : gather.statuses()) out->AppendStatus(code, n);
    for (const auto& [index, n] : gather.buckets()) out->AppendBucket(index, n);
  }
  Status st = out->Validate();
  if (!st.ok()) return Status::InvalidArgument(st.message());
  return Status::Ok();
}

}  // namespace apimeter

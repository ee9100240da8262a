#include "aggregator/aggregator.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace apimeter {
namespace {

using aggregator_internal::HashName;
using aggregator_internal::NameTable;

constexpr int64_t kMicrosPerMinute = 60LL * 1000000;
constexpr int64_t kMinutesPerHour = 60;
constexpr int64_t kMinutesPerDay = 1440;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > Aggregator::kMaxNameBytes) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Total order on slow requests: slower first, then earlier, then by names, so
// the kept top N does not depend on the order lines arrive in.
bool Slower(const SlowRequest& a, const SlowRequest& b) {
  return std::tie(b.latency_us, a.time_us, a.endpoint, a.customer, a.status, a.host) <
         std::tie(a.latency_us, b.time_us, b.endpoint, b.customer, b.status, b.host);
}

size_t SlowBytes(const SlowRequest& s) {
  auto heap = [](const std::string& str) { return str.capacity() > 15 ? str.capacity() + 1 : 0; };
  return sizeof(SlowRequest) + heap(s.host) + heap(s.endpoint) + heap(s.customer);
}

// Empties a container and gives its memory back (`c = {}` keeps the capacity).
template <typename Container>
void ReleaseMemory(Container& c) {
  Container().swap(c);
}

}  // namespace

Aggregator::Aggregator(AggregatorOptions options) : options_(std::move(options)) { Reset(); }

void Aggregator::Reset() {
  endpoints_.Clear();
  customers_.Clear();
  ReleaseMemory(endpoint_series_);
  ReleaseMemory(customer_series_);
  ce_series_.Clear();
  ce_pairs_ = 0;
  ReleaseMemory(series_);
  series_.push_back(Series{SeriesKind::kAll, kNone, kNone});
  series_.push_back(Series{SeriesKind::kHost, kNone, kNone});
  ReleaseMemory(minutes_);
  ReleaseMemory(minute_slots_);
  last_minute_ = INT64_MIN;
  last_slot_ = 0;
  rollup_index_.Clear();
  ReleaseMemory(rollups_);
  ReleaseMemory(rollup_keys_);
  rollup_heap_bytes_ = 0;
  ReleaseMemory(last_rollup_);
  slow_.clear();
  slow_day_ = INT64_MIN;
  slow_top_ = nullptr;
  slow_bytes_ = 0;
  lines_ = 0;
}

uint32_t Aggregator::MinuteSlot(int64_t minute) {
  if (minute == last_minute_) return last_slot_;
  auto [it, inserted] = minute_slots_.try_emplace(minute, static_cast<uint32_t>(minutes_.size()));
  if (inserted) minutes_.push_back(minute);
  last_minute_ = minute;
  last_slot_ = it->second;
  return last_slot_;
}

uint32_t Aggregator::NewSeries(SeriesKind kind, uint32_t customer, uint32_t endpoint) {
  series_.push_back(Series{kind, customer, endpoint});
  return static_cast<uint32_t>(series_.size() - 1);
}

uint32_t Aggregator::OtherId(NameTable& table, std::vector<uint32_t>& series, SeriesKind kind) {
  const uint64_t h = HashName(kOther);
  uint32_t id = table.Find(kOther, h);
  if (id != NameTable::kNone) return id;
  id = table.Insert(kOther, h);  // "other" is admitted beyond the limit
  const bool is_customer = kind == SeriesKind::kCustomer;
  series.push_back(NewSeries(kind, is_customer ? id : kNone, is_customer ? kNone : id));
  return id;
}

uint32_t Aggregator::InternName(NameTable& table, std::vector<uint32_t>& series, SeriesKind kind,
                                int64_t limit, std::string_view name) {
  const uint64_t h = HashName(name);
  uint32_t id = table.Find(name, h);
  if (id != NameTable::kNone) return id;
  if (!ValidName(name) || static_cast<int64_t>(table.size()) >= limit) {
    return OtherId(table, series, kind);
  }
  id = table.Insert(name, h);
  const bool is_customer = kind == SeriesKind::kCustomer;
  series.push_back(NewSeries(kind, is_customer ? id : kNone, is_customer ? kNone : id));
  return id;
}

uint32_t Aggregator::EndpointId(std::string_view name) {
  return InternName(endpoints_, endpoint_series_, SeriesKind::kEndpoint, options_.max_endpoints,
                    name);
}

uint32_t Aggregator::CustomerId(std::string_view name) {
  return InternName(customers_, customer_series_, SeriesKind::kCustomer, options_.max_customers,
                    name);
}

uint32_t Aggregator::CustomerEndpointSeries(uint32_t customer, uint32_t endpoint) {
  const uint64_t key = (static_cast<uint64_t>(customer) << 32) | endpoint;
  uint32_t series = ce_series_.Find(key);
  if (series != kNone) return series;
  const uint32_t other = OtherId(customers_, customer_series_, SeriesKind::kCustomer);
  // Pairs of "other" are bounded by the endpoint cap, so only real customers
  // count against the pair cap.
  if (customer != other) {
    if (static_cast<int64_t>(ce_pairs_) >= options_.max_customer_endpoints) {
      return CustomerEndpointSeries(other, endpoint);
    }
    ++ce_pairs_;
  }
  series = NewSeries(SeriesKind::kCustomerEndpoint, customer, endpoint);
  ce_series_.Insert(key, series);
  return series;
}

uint32_t Aggregator::RollupFor(uint32_t slot, uint32_t series) {
  const uint64_t key = (static_cast<uint64_t>(slot) << 32) | series;
  uint32_t index = rollup_index_.Find(key);
  if (index != kNone) return index;
  index = static_cast<uint32_t>(rollups_.size());
  rollups_.emplace_back();
  rollup_keys_.push_back(key);
  rollup_index_.Insert(key, index);
  return index;
}

uint32_t Aggregator::CachedRollupFor(uint32_t slot, uint32_t series) {
  if (series >= last_rollup_.size()) last_rollup_.resize(series_.size());
  LastRollup& last = last_rollup_[series];
  if (last.slot != slot) last = LastRollup{slot, RollupFor(slot, series)};
  return last.rollup;
}

void Aggregator::Add(const LogRecord& record, std::string_view endpoint,
                     std::string_view customer) {
  ++lines_;
  const uint32_t slot = MinuteSlot(FloorDiv(record.time_us, kMicrosPerMinute));
  const uint32_t e = EndpointId(endpoint);
  const uint32_t c = CustomerId(customer);
  const uint32_t rollups[5] = {
      CachedRollupFor(slot, kAllSeries), CachedRollupFor(slot, kHostSeries),
      CachedRollupFor(slot, endpoint_series_[e]), CachedRollupFor(slot, customer_series_[c]),
      CachedRollupFor(slot, CustomerEndpointSeries(c, e))};
  const bool has_latency = record.latency_us >= 0;
  const int bucket = has_latency ? LatencyHistogram::BucketIndex(record.latency_us) : 0;
  for (uint32_t index : rollups) {
    Rollup& r = rollups_[index];
    rollup_heap_bytes_ -= r.MemoryBytes();
    r.AddRequestInBucket(record.status, record.bytes_in, record.bytes_out, record.latency_us,
                         bucket);
    rollup_heap_bytes_ += r.MemoryBytes();
  }
  if (has_latency && options_.slow_top_n > 0) OfferSlow(record, e, c);
}

void Aggregator::AddRejected(int64_t time_us) {
  ++lines_;
  const uint32_t slot = MinuteSlot(FloorDiv(time_us, kMicrosPerMinute));
  ++rollups_[CachedRollupFor(slot, kAllSeries)].rejected;
  ++rollups_[CachedRollupFor(slot, kHostSeries)].rejected;
}

void Aggregator::OfferSlow(const LogRecord& record, uint32_t endpoint, uint32_t customer) {
  const int64_t day = FloorDiv(record.time_us, kMicrosPerMinute * kMinutesPerDay);
  if (day != slow_day_) {
    slow_top_ = &slow_[day];  // map nodes are stable
    slow_day_ = day;
  }
  DayTop& top = *slow_top_;
  const size_t n = static_cast<size_t>(options_.slow_top_n);
  const bool full = top.heap.size() >= n;
  if (full && record.latency_us < top.threshold) return;  // the common case: not slow
  SlowRequest candidate{record.time_us, record.latency_us,         record.status,
                        options_.host,  endpoints_.Name(endpoint), customers_.Name(customer)};
  if (!full) {
    slow_bytes_ += SlowBytes(candidate);
    top.heap.push_back(std::move(candidate));
    std::push_heap(top.heap.begin(), top.heap.end(), Slower);
  } else {
    if (!Slower(candidate, top.heap.front())) return;
    std::pop_heap(top.heap.begin(), top.heap.end(), Slower);
    slow_bytes_ += SlowBytes(candidate);
    slow_bytes_ -= SlowBytes(top.heap.back());
    top.heap.back() = std::move(candidate);
    std::push_heap(top.heap.begin(), top.heap.end(), Slower);
  }
  // The heap front is the least slow kept request.
  if (top.heap.size() >= n) top.threshold = top.heap.front().latency_us;
}

std::string Aggregator::SeriesName(const Series& s) const {
  switch (s.kind) {
    case SeriesKind::kAll:
      return "";
    case SeriesKind::kHost:
      return options_.host;
    case SeriesKind::kEndpoint:
      return endpoints_.Name(s.endpoint);
    case SeriesKind::kCustomer:
      return customers_.Name(s.customer);
    case SeriesKind::kCustomerEndpoint:
      return customers_.Name(s.customer) + kNameSeparator + endpoints_.Name(s.endpoint);
  }
  return "";
}

FlushBatch Aggregator::TakeBatch() {
  FlushBatch batch;
  batch.host = options_.host;
  batch.lines = lines_;
  std::vector<std::string> names;
  names.reserve(series_.size());
  for (const Series& s : series_) names.push_back(SeriesName(s));

  // Hour and day deltas are sums of the minute deltas, so all tiers agree.
  std::map<std::pair<int64_t, uint32_t>, Rollup> hours, days;
  batch.series.reserve(rollups_.size() * 3 / 2);
  for (size_t i = 0; i < rollups_.size(); ++i) {
    const int64_t minute = minutes_[rollup_keys_[i] >> 32];
    const uint32_t series = static_cast<uint32_t>(rollup_keys_[i]);
    hours[{FloorDiv(minute, kMinutesPerHour), series}].Merge(rollups_[i]);
    days[{FloorDiv(minute, kMinutesPerDay), series}].Merge(rollups_[i]);
    batch.series.push_back(SeriesDelta{Tier::kMinute, minute, series_[series].kind, names[series],
                                       std::move(rollups_[i])});
  }
  for (auto* tier : {&hours, &days}) {
    const Tier t = tier == &hours ? Tier::kHour : Tier::kDay;
    for (auto& [key, rollup] : *tier) {
      batch.series.push_back(SeriesDelta{t, key.first, series_[key.second].kind, names[key.second],
                                         std::move(rollup)});
    }
  }
  std::sort(batch.series.begin(), batch.series.end(),
            [](const SeriesDelta& a, const SeriesDelta& b) {
              return std::tie(a.tier, a.bucket, a.kind, a.name) <
                     std::tie(b.tier, b.bucket, b.kind, b.name);
            });
  for (auto& [day, top] : slow_) {
    std::sort(top.heap.begin(), top.heap.end(), Slower);
    for (SlowRequest& s : top.heap) batch.slow.push_back(std::move(s));
  }
  Reset();
  return batch;
}

size_t Aggregator::MemoryBytes() const {
  constexpr size_t kMapNodeBytes = 48;  // std::unordered_map / std::map node overhead, approx.
  size_t bytes = sizeof(*this);
  bytes += endpoints_.MemoryBytes() + customers_.MemoryBytes();
  bytes += (endpoint_series_.capacity() + customer_series_.capacity()) * sizeof(uint32_t);
  bytes += ce_series_.MemoryBytes() + series_.capacity() * sizeof(Series);
  bytes += minutes_.capacity() * sizeof(int64_t) + minute_slots_.size() * kMapNodeBytes +
           minute_slots_.bucket_count() * sizeof(void*);
  bytes += rollup_index_.MemoryBytes() + rollup_keys_.capacity() * sizeof(uint64_t);
  // rollup_heap_bytes_ is the heap the rollups own beyond sizeof(Rollup).
  bytes += rollups_.capacity() * sizeof(Rollup) + rollup_heap_bytes_;
  bytes += last_rollup_.capacity() * sizeof(LastRollup);
  bytes += slow_.size() * (sizeof(DayTop) + kMapNodeBytes) + slow_bytes_;
  return bytes;
}

}  // namespace apimeter

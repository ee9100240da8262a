#include "aggregator/aggregator.h"

#include <algorithm>
#include <iterator>
#include <numeric>
#include <tuple>
#include <utility>

namespace apimeter {
namespace {

using aggregator_internal::CompactRollup;
using aggregator_internal::HashName;
using aggregator_internal::NameTable;

constexpr int64_t kMicrosPerMinute = 60LL * 1000000;
constexpr int64_t kMinutesPerHour = 60;
constexpr int64_t kMinutesPerDay = 1440;
// Name ids share a 64-bit minute key with a 32-bit slot and a 2-bit kind tag.
constexpr int64_t kMaxNameId = (int64_t{1} << 30) - 2;
constexpr uint64_t kIdMask = (uint64_t{1} << 30) - 1;

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

size_t SlowBytes(const SlowRequest& s) {
  auto heap = [](const std::string& str) { return str.capacity() > 15 ? str.capacity() + 1 : 0; };
  return sizeof(SlowRequest) + heap(s.host) + heap(s.endpoint) + heap(s.customer);
}

// Empties a container and gives its memory back (`c = {}` keeps the capacity).
template <typename Container>
void ReleaseMemory(Container& c) {
  Container().swap(c);
}

// rank[id] = position of the name in byte order. Ranking once lets TakeBatch
// sort integer keys instead of strings.
std::vector<uint32_t> RanksByName(const NameTable& t) {
  std::vector<uint32_t> ids(t.size());
  std::iota(ids.begin(), ids.end(), 0u);
  std::sort(ids.begin(), ids.end(), [&](uint32_t a, uint32_t b) { return t.Name(a) < t.Name(b); });
  std::vector<uint32_t> rank(t.size());
  for (uint32_t r = 0; r < ids.size(); ++r) rank[ids[r]] = r;
  return rank;
}

// Sums of rollups per series ordinal within one hour (or day), handed out in
// ordinal order, i.e. in (kind, name) order.
class Accumulator {
 public:
  explicit Accumulator(size_t ordinals) : index_(ordinals, UINT32_MAX) {}

  Rollup& At(uint32_t ordinal) {
    uint32_t& i = index_[ordinal];
    if (i == UINT32_MAX) {
      i = static_cast<uint32_t>(rollups_.size());
      rollups_.emplace_back();
      ordinals_.push_back(ordinal);
    }
    return rollups_[i];
  }
  // Calls f(ordinal, Rollup&&) in ordinal order and empties the accumulator.
  template <typename F>
  void Drain(F&& f) {
    std::sort(ordinals_.begin(), ordinals_.end());
    for (uint32_t o : ordinals_) {
      f(o, std::move(rollups_[index_[o]]));
      index_[o] = UINT32_MAX;
    }
    ordinals_.clear();
    rollups_.clear();
  }

 private:
  std::vector<uint32_t> index_;  // ordinal -> index in rollups_
  std::vector<Rollup> rollups_;
  std::vector<uint32_t> ordinals_;
};

}  // namespace

// Builds the batch's series in (tier, bucket, kind, name) order. Every series
// gets an ordinal, its position in (kind, name) order (all, host, endpoints,
// customers by rank), so each tier is sorted by integer keys. Minute cells are
// visited in (minute, ordinal) order; hours and days are contiguous in that
// order, so their sums are built in per-ordinal accumulators and closed when
// the hour or day changes. Hour deltas are sums of minutes and day deltas sums
// of hours, so all tiers agree exactly.
class Aggregator::Emitter {
 public:
  static constexpr size_t kLookahead = 8;

  explicit Emitter(Aggregator& a)
      : a_(a),
        endpoint_rank_(RanksByName(a.endpoints_.table)),
        customer_rank_(RanksByName(a.customers_.table)),
        first_customer_(2 + static_cast<uint32_t>(endpoint_rank_.size())),
        names_(first_customer_ + customer_rank_.size(), nullptr),
        hours_(names_.size()),
        days_(names_.size()) {
    static const std::string kEmpty;
    names_[0] = &kEmpty;
    names_[1] = &a.options_.host;
    for (uint32_t id = 0; id < endpoint_rank_.size(); ++id)
      names_[2 + endpoint_rank_[id]] = &a.endpoints_.table.Name(id);
    for (uint32_t id = 0; id < customer_rank_.size(); ++id)
      names_[first_customer_ + customer_rank_[id]] = &a.customers_.table.Name(id);
  }

  // Writes the batch's series into *out: minutes, hours, then days, with
  // `clients` (day deltas sorted by (bucket, kind, name), kinds after every
  // other kind) merged into the days. Each delta is moved into *out once,
  // into storage sized once (a batch holds hundreds of thousands).
  void Run(std::vector<SeriesDelta>* out, std::vector<SeriesDelta> clients) {
    SortMinuteCells();
    SortCeCells();
    // Minute deltas (the all cell also yields host); hours and days follow.
    std::vector<SeriesDelta> minutes;
    minutes.reserve(minute_order_.size() + sorted_minutes_.size());
    std::vector<SeriesDelta> hours, days;
    days.reserve(ce_order_.size());
    bool open = false;
    int64_t hour = 0, day = 0;
    for (size_t i = 0; i < minute_order_.size(); ++i) {
      // Cells are visited in key order, not memory order: load ahead.
      if (i + kLookahead < minute_order_.size()) {
        a_.minute_cells_[minute_order_[i + kLookahead].second].Prefetch();
      }
      const auto [key, cell] = minute_order_[i];
      const int64_t minute = sorted_minutes_[key >> 32];
      const uint32_t ordinal = static_cast<uint32_t>(key);
      const int64_t h = FloorDiv(minute, kMinutesPerHour), d = FloorDiv(minute, kMinutesPerDay);
      if (open && h != hour) CloseHour(hour, &hours);
      if (open && d != day) CloseDay(day, &days);
      open = true;
      hour = h;
      day = d;
      Rollup r = a_.minute_cells_[cell].TakeRollup();
      hours_.At(ordinal).Merge(r);
      if (ordinal == 0) {  // the host series equals the all series (ordinal 1)
        hours_.At(1).Merge(r);
        minutes.push_back(Delta(Tier::kMinute, minute, 0, Rollup(r)));
        minutes.push_back(Delta(Tier::kMinute, minute, 1, std::move(r)));
        continue;
      }
      minutes.push_back(Delta(Tier::kMinute, minute, ordinal, std::move(r)));
    }
    if (open) {
      CloseHour(hour, &hours);
      CloseDay(day, &days);
    }
    EmitCe(INT64_MAX, &days);  // none left: every ce cell's day has minute cells
    out->clear();
    out->reserve(minutes.size() + hours.size() + days.size() + clients.size());
    for (auto* tier : {&minutes, &hours}) {
      std::move(tier->begin(), tier->end(), std::back_inserter(*out));
    }
    std::merge(std::make_move_iterator(days.begin()), std::make_move_iterator(days.end()),
               std::make_move_iterator(clients.begin()), std::make_move_iterator(clients.end()),
               std::back_inserter(*out), [](const SeriesDelta& x, const SeriesDelta& y) {
                 return std::tie(x.bucket, x.kind, x.name) < std::tie(y.bucket, y.kind, y.name);
               });
  }

 private:
  SeriesKind KindOf(uint32_t ordinal) const {
    if (ordinal == 0) return SeriesKind::kAll;
    if (ordinal == 1) return SeriesKind::kHost;
    return ordinal < first_customer_ ? SeriesKind::kEndpoint : SeriesKind::kCustomer;
  }
  uint32_t Ordinal(uint64_t minute_key) const {
    const uint32_t id = static_cast<uint32_t>(minute_key & kIdMask);
    switch ((minute_key >> 30) & 3) {
      case kTagAll:
        return 0;
      case kTagEndpoint:
        return 2 + endpoint_rank_[id];
      default:
        return first_customer_ + customer_rank_[id];
    }
  }
  SeriesDelta Delta(Tier tier, int64_t bucket, uint32_t ordinal, Rollup&& r) const {
    return SeriesDelta{tier, bucket, KindOf(ordinal), *names_[ordinal], std::move(r)};
  }

  // minute_order_: (minute rank << 32 | ordinal, cell), sorted.
  void SortMinuteCells() {
    std::vector<uint32_t> slots(a_.minutes_.size());
    std::iota(slots.begin(), slots.end(), 0u);
    std::sort(slots.begin(), slots.end(),
              [&](uint32_t x, uint32_t y) { return a_.minutes_[x] < a_.minutes_[y]; });
    std::vector<uint64_t> rank(slots.size());
    for (uint32_t r = 0; r < slots.size(); ++r) {
      rank[slots[r]] = r;
      sorted_minutes_.push_back(a_.minutes_[slots[r]]);
    }
    minute_order_.reserve(a_.minute_cells_.size());
    for (uint32_t cell = 0; cell < a_.minute_cells_.size(); ++cell) {
      const uint64_t key = a_.minute_keys_[cell];
      minute_order_.emplace_back(rank[key >> 32] << 32 | Ordinal(key), cell);
    }
    std::sort(minute_order_.begin(), minute_order_.end());
  }

  // ce_order_: (day, customer rank << 32 | endpoint rank, cell), sorted. Names
  // hold no control characters, so ordering by (customer, endpoint) is the
  // byte order of "customer\x1fendpoint".
  void SortCeCells() {
    ce_order_.reserve(a_.ce_cells_.size());
    for (uint32_t cell = 0; cell < a_.ce_cells_.size(); ++cell) {
      const CeKey& k = a_.ce_keys_[cell];
      const uint64_t names =
          uint64_t{customer_rank_[k.customer]} << 32 | endpoint_rank_[k.endpoint];
      ce_order_.emplace_back(k.day, names, cell);
    }
    std::sort(ce_order_.begin(), ce_order_.end());
  }

  void CloseHour(int64_t hour, std::vector<SeriesDelta>* hours) {
    hours_.Drain([&](uint32_t ordinal, Rollup&& r) {
      days_.At(ordinal).Merge(r);
      hours->push_back(Delta(Tier::kHour, hour, ordinal, std::move(r)));
    });
  }

  void CloseDay(int64_t day, std::vector<SeriesDelta>* days) {
    days_.Drain([&](uint32_t ordinal, Rollup&& r) {
      days->push_back(Delta(Tier::kDay, day, ordinal, std::move(r)));
    });
    EmitCe(day, days);  // kind ce sorts after the other four kinds
  }

  // Day deltas of the ce cells of days <= `day` not emitted yet.
  void EmitCe(int64_t day, std::vector<SeriesDelta>* days) {
    for (; next_ce_ < ce_order_.size() && std::get<0>(ce_order_[next_ce_]) <= day; ++next_ce_) {
      if (next_ce_ + kLookahead < ce_order_.size()) {
        a_.ce_cells_[std::get<2>(ce_order_[next_ce_ + kLookahead])].Prefetch();
      }
      const auto& [d, names, cell] = ce_order_[next_ce_];
      const CeKey& k = a_.ce_keys_[cell];
      std::string name = a_.customers_.table.Name(k.customer);
      name += kNameSeparator;
      name += a_.endpoints_.table.Name(k.endpoint);
      Rollup r = a_.ce_cells_[cell].TakeRollup();
      const CeSeen seen = a_.ce_seen_[cell];
      r.first_seen_minute = d * kMinutesPerDay + seen.first;
      r.last_seen_minute = d * kMinutesPerDay + seen.last;
      days->push_back(
          SeriesDelta{Tier::kDay, d, SeriesKind::kCustomerEndpoint, std::move(name), std::move(r)});
    }
  }

  Aggregator& a_;
  std::vector<uint32_t> endpoint_rank_, customer_rank_;
  uint32_t first_customer_;
  std::vector<const std::string*> names_;  // by ordinal
  Accumulator hours_, days_;
  std::vector<int64_t> sorted_minutes_;  // by minute rank
  std::vector<std::pair<uint64_t, uint32_t>> minute_order_;
  std::vector<std::tuple<int64_t, uint64_t, uint32_t>> ce_order_;
  size_t next_ce_ = 0;
};

Aggregator::Aggregator(AggregatorOptions options)
    : options_(std::move(options)), clients_(options_.max_clients, options_.max_client_pairs) {
  Reset();
}

void Aggregator::Reset() {
  endpoints_ = Names{};
  endpoints_.cap = std::clamp<int64_t>(options_.max_endpoints, 0, kMaxNameId);
  customers_ = Names{};
  customers_.cap = std::clamp<int64_t>(options_.max_customers, 0, kMaxNameId);
  all_last_ = LastCell{};
  ReleaseMemory(minutes_);
  ReleaseMemory(minute_slots_);
  minute_first_us_ = 0;
  minute_last_us_ = -1;
  slot_ = kNone;
  day_ = 0;
  minute_index_.Clear();
  minute_cells_.Clear();
  ReleaseMemory(minute_keys_);
  ce_index_.Clear();
  ce_cells_.Clear();
  ReleaseMemory(ce_keys_);
  ReleaseMemory(ce_seen_);
  ce_admitted_ = 0;
  heap_bytes_ = 0;
  clients_ = ClientCells(options_.max_clients, options_.max_client_pairs);
  slow_.clear();
  slow_day_ = INT64_MIN;
  slow_top_ = nullptr;
  slow_bytes_ = 0;
  lines_ = 0;
  pushed_ = 0;
}

// Sets slot_ and day_ for time_us; two comparisons when the minute is the
// previous line's.
void Aggregator::SetMinute(int64_t time_us) {
  if (time_us >= minute_first_us_ && time_us <= minute_last_us_) return;
  const int64_t minute = FloorDiv(time_us, kMicrosPerMinute);
  auto [it, inserted] = minute_slots_.try_emplace(minute, static_cast<uint32_t>(minutes_.size()));
  if (inserted) minutes_.push_back(minute);
  slot_ = it->second;
  day_ = FloorDiv(minute, kMinutesPerDay);
  minute_of_day_ = static_cast<uint16_t>(minute - day_ * kMinutesPerDay);
  // The first and last minutes of the int64 range are cut short.
  if (__builtin_mul_overflow(minute, kMicrosPerMinute, &minute_first_us_)) {
    minute_first_us_ = INT64_MIN;
    minute_last_us_ = (minute + 1) * kMicrosPerMinute - 1;
  } else if (__builtin_add_overflow(minute_first_us_, kMicrosPerMinute - 1, &minute_last_us_)) {
    minute_last_us_ = INT64_MAX;
  }
}

uint32_t Aggregator::InternOther(Names& names) {
  if (names.other != kNone) return names.other;
  const uint64_t h = HashName(kOther);
  names.other = names.table.Find(kOther, h);
  if (names.other == NameTable::kNone) {
    names.other = names.table.Insert(kOther, h);  // admitted beyond the cap
    names.last.emplace_back();
  }
  return names.other;
}

uint32_t Aggregator::Intern(Names& names, std::string_view name) {
  const uint64_t h = HashName(name);
  uint32_t id = names.table.Find(name, h);
  if (id != NameTable::kNone) return id;
  // "other" does not use up the cap, whether it came first or not.
  const int64_t held = static_cast<int64_t>(names.table.size()) - (names.other != kNone);
  if (name == kOther || !ValidName(name) || held >= names.cap) return InternOther(names);
  id = names.table.Insert(name, h);
  names.last.emplace_back();
  return id;
}

uint32_t Aggregator::MinuteCell(KindTag tag, uint32_t id, LastCell& last, uint32_t slot) {
  if (last.slot == slot) return last.cell;
  const uint64_t key = (uint64_t{slot} << 32) | (uint64_t{tag} << 30) | id;
  uint32_t cell = minute_index_.Find(key);
  if (cell == kNone) {
    cell = minute_cells_.Add();
    minute_keys_.push_back(key);
    minute_index_.Insert(key, cell);
  }
  last = LastCell{slot, cell};
  return cell;
}

uint32_t Aggregator::CeCell(int64_t day, uint32_t customer, uint32_t endpoint) {
  const uint64_t pair = (uint64_t{customer} << 32) | endpoint;
  uint32_t cell = ce_index_.Find(day, pair);
  if (cell != kNone) return cell;
  // Cells of "other" are bounded by the endpoint cap, so only real customers
  // count against the pair cap.
  if (customer != customers_.other) {
    if (static_cast<int64_t>(ce_admitted_) >= options_.max_customer_endpoints) {
      return CeCell(day, InternOther(customers_), endpoint);
    }
    ++ce_admitted_;
  }
  cell = ce_cells_.Add();
  ce_keys_.push_back(CeKey{day, customer, endpoint});
  ce_seen_.push_back(CeSeen{});
  ce_index_.Insert(day, pair, cell);
  return cell;
}

void Aggregator::Add(const LogRecord& record, std::string_view endpoint,
                     std::string_view customer, const std::string_view* client) {
  ++lines_;
  SetMinute(record.time_us);
  PendingLine& p = Pending(pushed_);
  p.latency_us = record.latency_us;
  p.bytes_in = record.bytes_in;
  p.bytes_out = record.bytes_out;
  p.day = day_;
  p.status = record.status;
  p.bucket = record.latency_us >= 0 ? LatencyHistogram::BucketIndex(record.latency_us) : 0;
  p.slot = slot_;
  p.minute_of_day = minute_of_day_;
  p.endpoint = Intern(endpoints_, endpoint);
  p.customer = Intern(customers_, customer);
  ce_index_.Prefetch(p.day, (uint64_t{p.customer} << 32) | p.endpoint);
  if (record.latency_us >= 0 && options_.slow_top_n > 0) OfferSlow(record, p.endpoint, p.customer);
  p.client = client != nullptr ? clients_.Intern(*client) : ClientCells::kNone;
  if (p.client != ClientCells::kNone) clients_.PrefetchIndex(p.day, p.client, p.endpoint, p.customer);
  ++pushed_;
  Advance();
}

// Runs the later stages of earlier lines (see PendingLine).
void Aggregator::Advance() {
  const uint64_t newest = pushed_ - 1;
  if (newest >= kFindLag) FindCells(Pending(newest - kFindLag));
  if (newest >= kSpillLag) {
    const PendingLine& p = Pending(newest - kSpillLag);
    minute_cells_[p.endpoint_cell].PrefetchSpill();
    minute_cells_[p.customer_cell].PrefetchSpill();
    ce_cells_[p.ce_cell].PrefetchSpill();
    if (p.client != ClientCells::kNone) clients_.PrefetchSpill(p.client_cells);
  }
  if (newest >= kBucketLag) {
    const PendingLine& p = Pending(newest - kBucketLag);
    if (p.latency_us >= 0) {
      minute_cells_[p.endpoint_cell].PrefetchBucket(p.bucket);
      minute_cells_[p.customer_cell].PrefetchBucket(p.bucket);
      ce_cells_[p.ce_cell].PrefetchBucket(p.bucket);
      if (p.client != ClientCells::kNone) clients_.PrefetchBucket(p.client_cells, p.bucket);
    }
  }
  if (newest >= kApplyLag) Apply(Pending(newest - kApplyLag));
}

// The cells that may be cold (endpoint and customer minute, customer ×
// endpoint day, the client pairs); the all and client cells stay in cache.
void Aggregator::FindCells(PendingLine& p) {
  p.endpoint_cell = MinuteCell(kTagEndpoint, p.endpoint, endpoints_.last[p.endpoint], p.slot);
  p.customer_cell = MinuteCell(kTagCustomer, p.customer, customers_.last[p.customer], p.slot);
  p.ce_cell = CeCell(p.day, p.customer, p.endpoint);
  minute_cells_[p.endpoint_cell].Prefetch();
  minute_cells_[p.customer_cell].Prefetch();
  ce_cells_[p.ce_cell].Prefetch();
  aggregator_internal::PrefetchLine(&ce_seen_[p.ce_cell]);
  if (p.client != ClientCells::kNone) {
    p.client_cells = clients_.Find(p.day, p.client, p.endpoint, p.customer);
    clients_.PrefetchCells(p.client_cells);
  }
}

void Aggregator::Apply(const PendingLine& p) {
  CompactRollup* const cells[4] = {
      &minute_cells_[MinuteCell(kTagAll, 0, all_last_, p.slot)],
      &minute_cells_[p.endpoint_cell],
      &minute_cells_[p.customer_cell],
      &ce_cells_[p.ce_cell],
  };
  for (CompactRollup* cell : cells) {
    cell->Add(p.status, p.bytes_in, p.bytes_out, p.latency_us, p.bucket, &heap_bytes_);
  }
  if (p.client != ClientCells::kNone) {
    clients_.Count(p.client_cells, p.status, p.bytes_in, p.bytes_out, p.latency_us, p.bucket);
  }
  CeSeen& seen = ce_seen_[p.ce_cell];
  seen.first = std::min(seen.first, p.minute_of_day);
  seen.last = std::max(seen.last, p.minute_of_day);
}

// Applies every line still in the pipeline, in order.
void Aggregator::Drain() {
  const uint64_t first = pushed_ > kApplyLag ? pushed_ - kApplyLag : 0;
  for (uint64_t line = first; line < pushed_; ++line) {
    if (line + kFindLag >= pushed_) FindCells(Pending(line));  // not found yet
    Apply(Pending(line));
  }
  pushed_ = 0;
}

void Aggregator::AddRejected(int64_t time_us) {
  ++lines_;
  SetMinute(time_us);
  minute_cells_[MinuteCell(kTagAll, 0, all_last_, slot_)].AddRejected();
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
  SlowRequest candidate{record.time_us,
                        record.latency_us,
                        record.status,
                        options_.host,
                        endpoints_.table.Name(endpoint),
                        customers_.table.Name(customer)};
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

FlushBatch Aggregator::TakeBatch() {
  FlushBatch batch;
  batch.host = options_.host;
  batch.lines = lines_;
  Drain();
  std::vector<SeriesDelta> clients = TakeClientDays();
  Emitter(*this).Run(&batch.series, std::move(clients));
  for (auto& [day, top] : slow_) {
    std::sort(top.heap.begin(), top.heap.end(), Slower);
    for (SlowRequest& s : top.heap) batch.slow.push_back(std::move(s));
  }
  Reset();
  return batch;
}

// The client cells as day deltas sorted by (bucket, kind, name); their
// kinds come after every other kind (Emitter::Run merges them into the days).
std::vector<SeriesDelta> Aggregator::TakeClientDays() {
  if (clients_.Empty()) return {};
  return clients_.Take(
      [this](uint32_t id) -> const std::string& { return endpoints_.table.Name(id); },
      [this](uint32_t id) -> const std::string& { return customers_.table.Name(id); });
}

size_t Aggregator::MemoryBytes() const {
  constexpr size_t kMapNodeBytes = 48;  // std::unordered_map / std::map node overhead, approx.
  size_t bytes = sizeof(*this);
  for (const Names* n : {&endpoints_, &customers_}) {
    bytes += n->table.MemoryBytes() + n->last.capacity() * sizeof(LastCell);
  }
  bytes += minutes_.capacity() * sizeof(int64_t) + minute_slots_.size() * kMapNodeBytes +
           minute_slots_.bucket_count() * sizeof(void*);
  bytes += minute_index_.MemoryBytes() + minute_cells_.MemoryBytes() +
           minute_keys_.capacity() * sizeof(uint64_t);
  bytes += ce_index_.MemoryBytes() + ce_cells_.MemoryBytes() + ce_keys_.capacity() * sizeof(CeKey) +
           ce_seen_.capacity() * sizeof(CeSeen);
  bytes += heap_bytes_;  // spilled statuses and histograms
  bytes += clients_.MemoryBytes();
  bytes += slow_.size() * (sizeof(DayTop) + kMapNodeBytes) + slow_bytes_;
  return bytes;
}

}  // namespace apimeter

// ClientCells: the client kinds' day cells (see header).
#include "aggregator/client_cells.h"

#include <algorithm>
#include <tuple>

namespace apimeter {
namespace {

constexpr std::string_view kOtherClient = "other";
constexpr size_t kNodeBytes = 64;  // hash-map node and bucket overhead, approx.

bool ValidClient(std::string_view name) {
  if (name.empty() || name.size() > ClientCells::kMaxClientNameBytes) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

ClientCells::ClientCells(int64_t max_clients, int64_t max_pairs)
    : max_clients_(std::max<int64_t>(max_clients, 0)), max_pairs_(std::max<int64_t>(max_pairs, 0)) {}

uint32_t ClientCells::Other() {
  if (other_ != kNone) return other_;
  other_ = static_cast<uint32_t>(names_.size());
  names_.emplace_back(kOtherClient);
  last_.emplace_back();
  ids_.emplace(std::string(kOtherClient), other_);
  bytes_ += sizeof(std::string) + kNodeBytes + 2 * sizeof(std::string);
  return other_;
}

uint32_t ClientCells::Intern(std::string_view client) {
  auto it = ids_.find(client);
  if (it != ids_.end()) return it->second;
  const int64_t held = static_cast<int64_t>(names_.size()) - (other_ != kNone);
  if (client == kOtherClient || !ValidClient(client) || held >= max_clients_) return Other();
  const auto id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(client);
  last_.emplace_back();
  ids_.emplace(std::string(client), id);
  bytes_ += 2 * (sizeof(std::string) + client.size()) + kNodeBytes;
  return id;
}

uint64_t ClientCells::Pair(SeriesKind kind, uint32_t a, uint32_t b) {
  const uint64_t tag = kind == SeriesKind::kClient ? 0 : kind == SeriesKind::kClientEndpoint ? 1 : 2;
  return tag << 62 | uint64_t{a} << 32 | b;
}

void ClientCells::PrefetchIndex(int64_t day, uint32_t client, uint32_t endpoint,
                                uint32_t customer) const {
  index_.Prefetch(day, Pair(SeriesKind::kClientEndpoint, client, endpoint));
  index_.Prefetch(day, Pair(SeriesKind::kCustomerClient, customer, client));
}

uint32_t ClientCells::Cell(const Key& key, bool pair) {
  const uint64_t p = Pair(key.kind, key.a, key.b);
  uint32_t cell = index_.Find(key.day, p);
  if (cell != kNone) return cell;
  if (pair && pairs_ >= max_pairs_) return kNone;
  cell = cells_.Add();
  keys_.push_back(key);
  index_.Insert(key.day, p, cell);
  if (pair) ++pairs_;
  return cell;
}

// A pair cell past the cap goes to the pair with "other" as the client
// (that spill cell is created whatever the cap: at most one per endpoint or
// customer of the day).
uint32_t ClientCells::PairCell(int64_t day, SeriesKind kind, uint32_t a, uint32_t b,
                               bool client_first) {
  const uint32_t cell = Cell(Key{day, kind, a, b}, true);
  if (cell != kNone) return cell;
  const uint32_t other = Other();
  return Cell(client_first ? Key{day, kind, other, b} : Key{day, kind, a, other}, false);
}

ClientCells::Cells ClientCells::Find(int64_t day, uint32_t client, uint32_t endpoint,
                                     uint32_t customer) {
  Cells c;
  LastCell& last = last_[client];
  if (last.day != day) last = LastCell{day, Cell(Key{day, SeriesKind::kClient, client, 0}, false)};
  c.client = last.cell;
  c.client_endpoint = PairCell(day, SeriesKind::kClientEndpoint, client, endpoint, true);
  c.customer_client = PairCell(day, SeriesKind::kCustomerClient, customer, client, false);
  return c;
}

void ClientCells::PrefetchCells(const Cells& c) const {
  cells_[c.client_endpoint].Prefetch();
  cells_[c.customer_client].Prefetch();
}

void ClientCells::PrefetchSpill(const Cells& c) const {
  cells_[c.client_endpoint].PrefetchSpill();
  cells_[c.customer_client].PrefetchSpill();
}

void ClientCells::PrefetchBucket(const Cells& c, int bucket) const {
  for (uint32_t cell : {c.client, c.client_endpoint, c.customer_client}) {
    cells_[cell].PrefetchBucket(bucket);
  }
}

void ClientCells::Count(const Cells& c, int status, uint64_t bytes_in, uint64_t bytes_out,
                        int64_t latency_us, int histogram_bucket) {
  for (uint32_t cell : {c.client, c.client_endpoint, c.customer_client}) {
    // heap spills add to bytes_
    cells_[cell].Add(status, bytes_in, bytes_out, latency_us, histogram_bucket, &bytes_);
  }
}

std::vector<SeriesDelta> ClientCells::Take(const NameOf& endpoint_name,
                                           const NameOf& customer_name) {
  std::vector<SeriesDelta> out;
  out.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Key& key = keys_[i];
    SeriesDelta d;
    d.tier = Tier::kDay;
    d.bucket = key.day;
    d.kind = key.kind;
    switch (key.kind) {
      case SeriesKind::kClientEndpoint:
        d.name = names_[key.a] + kNameSeparator + endpoint_name(key.b);
        break;
      case SeriesKind::kCustomerClient:
        d.name = customer_name(key.a) + kNameSeparator + names_[key.b];
        break;
      default: d.name = names_[key.a]; break;
    }
    d.rollup = cells_[static_cast<uint32_t>(i)].TakeRollup();
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const SeriesDelta& x, const SeriesDelta& y) {
    return std::tie(x.bucket, x.kind, x.name) < std::tie(y.bucket, y.kind, y.name);
  });
  *this = ClientCells(max_clients_, max_pairs_);
  return out;
}

}  // namespace apimeter

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
  if (other_ != UINT32_MAX) return other_;
  other_ = static_cast<uint32_t>(names_.size());
  names_.emplace_back(kOtherClient);
  ids_.emplace(std::string(kOtherClient), other_);
  bytes_ += sizeof(std::string) + kNodeBytes + 2 * sizeof(std::string);
  return other_;
}

uint32_t ClientCells::Intern(std::string_view client) {
  auto it = ids_.find(client);
  if (it != ids_.end()) return it->second;
  const int64_t held = static_cast<int64_t>(names_.size()) - (other_ != UINT32_MAX);
  if (client == kOtherClient || !ValidClient(client) || held >= max_clients_) return Other();
  const auto id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(client);
  ids_.emplace(std::string(client), id);
  bytes_ += 2 * (sizeof(std::string) + client.size()) + kNodeBytes;
  return id;
}

aggregator_internal::CompactRollup* ClientCells::Cell(const Key& key, bool pair) {
  if (pair && pairs_ >= max_pairs_) {
    auto it = cells_.find(key);
    return it == cells_.end() ? nullptr : &it->second;
  }
  auto [it, fresh] = cells_.try_emplace(key);
  if (fresh) {
    bytes_ += sizeof(Key) + sizeof(aggregator_internal::CompactRollup) + kNodeBytes;
    if (pair) ++pairs_;
  }
  return &it->second;
}

void ClientCells::Count(aggregator_internal::CompactRollup* cell, int status, uint64_t bytes_in,
                        uint64_t bytes_out, int64_t latency_us, int bucket) {
  cell->Add(status, bytes_in, bytes_out, latency_us, bucket, &bytes_);  // heap spills add to bytes_
}

void ClientCells::Add(int64_t day, std::string_view client, uint32_t endpoint, uint32_t customer,
                      int status, uint64_t bytes_in, uint64_t bytes_out, int64_t latency_us,
                      int histogram_bucket) {
  const uint32_t id = Intern(client);
  auto count = [&](aggregator_internal::CompactRollup* cell) {
    Count(cell, status, bytes_in, bytes_out, latency_us, histogram_bucket);
  };
  count(Cell({day, SeriesKind::kClient, id, 0}, false));
  // A pair cell past the cap goes to the pair with "other" as the client
  // (that spill cell is created whatever the cap: at most one per endpoint
  // or customer of the day).
  auto pair = [&](SeriesKind kind, uint32_t a, uint32_t b, bool client_first) {
    if (auto* cell = Cell({day, kind, a, b}, true)) {
      count(cell);
      return;
    }
    const uint32_t other = Other();
    count(Cell(client_first ? Key{day, kind, other, b} : Key{day, kind, a, other}, false));
  };
  pair(SeriesKind::kClientEndpoint, id, endpoint, true);
  pair(SeriesKind::kCustomerClient, customer, id, false);
}

std::vector<SeriesDelta> ClientCells::Take(const NameOf& endpoint_name,
                                           const NameOf& customer_name) {
  std::vector<SeriesDelta> out;
  out.reserve(cells_.size());
  for (auto& [key, rollup] : cells_) {
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
    d.rollup = rollup.TakeRollup();
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const SeriesDelta& x, const SeriesDelta& y) {
    return std::tie(x.bucket, x.kind, x.name) < std::tie(y.bucket, y.kind, y.name);
  });
  *this = ClientCells(max_clients_, max_pairs_);
  return out;
}

}  // namespace apimeter

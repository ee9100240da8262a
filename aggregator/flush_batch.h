// FlushBatch: the unit of work handed from the aggregator to the sink.
//
// Promise: a batch holds deltas (what changed since the previous batch), not
// totals, so the sink applies it with additions and a batch can be merged
// into a later one when a flush fails. Each delta names its tier, bucket and
// series exactly as docs/redis-schema.md does. `checkpoints` are the input
// positions the batch covers; the sink commits them in the same transaction
// as the data.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "aggregator/rollup.h"

namespace apimeter {

enum class Tier : uint8_t { kMinute = 0, kHour = 1, kDay = 2 };
constexpr int kTierCount = 3;
constexpr int64_t TierSeconds(Tier t) {
  return t == Tier::kMinute ? 60 : t == Tier::kHour ? 3600 : 86400;
}
constexpr char TierLetter(Tier t) {
  return t == Tier::kMinute ? 'm' : t == Tier::kHour ? 'h' : 'd';
}

// kClient, kClientEndpoint and kCustomerClient (issue 18 part 2) are kept per
// UTC day only, and only for sources that log $http_user_agent.
enum class SeriesKind : uint8_t {
  kAll,
  kHost,
  kEndpoint,
  kCustomer,
  kCustomerEndpoint,
  kClient,          // name: the client ("acme-python/2.3", "none", "other")
  kClientEndpoint,  // name: client + '\x1f' + endpoint
  kCustomerClient,  // name: customer + '\x1f' + client
};
constexpr bool IsClientKind(SeriesKind k) {
  return k == SeriesKind::kClient || k == SeriesKind::kClientEndpoint ||
         k == SeriesKind::kCustomerClient;
}

// Separator between the two names of a pair kind's name.
constexpr char kNameSeparator = '\x1f';

struct SeriesDelta {
  Tier tier = Tier::kMinute;
  int64_t bucket = 0;  // epoch seconds / TierSeconds(tier)
  SeriesKind kind = SeriesKind::kAll;
  std::string name;  // "" for all; host; endpoint; customer; customer + '\x1f' + endpoint
  Rollup rollup;
};

struct SlowRequest {
  int64_t time_us = 0;
  int64_t latency_us = 0;
  int status = 0;
  std::string host;
  std::string endpoint;
  std::string customer;
};

// Total order on slow requests: slower first, then earlier, then by names, so
// the kept top N does not depend on the order lines arrive in.
inline bool Slower(const SlowRequest& a, const SlowRequest& b) {
  return std::tie(b.latency_us, a.time_us, a.endpoint, a.customer, a.status, a.host) <
         std::tie(a.latency_us, b.time_us, b.endpoint, b.customer, b.status, b.host);
}

// The byte intervals of one input file that are counted once the batch commits.
struct FileCheckpoint {
  std::string fingerprint;  // content fingerprint, see docs/redis-schema.md
  std::string expected;     // the checkpoint value the writer last read ("" = none)
  std::string updated;      // the value to store when the batch commits
};

struct FlushBatch {
  // Idempotency token (any unique string, e.g. 32 hex digits). The sink stores
  // it in the same transaction as the data, so re-sending a batch whose EXEC
  // outcome was unknown never counts it twice. Empty: the sink picks one and
  // remembers it only while retries of the same content fail.
  std::string id;
  std::string host;
  std::vector<SeriesDelta> series;
  std::vector<SlowRequest> slow;  // candidates; the sink keeps the top N per day
  std::vector<FileCheckpoint> checkpoints;
  uint64_t lines = 0;  // lines (good and rejected) the batch covers

  bool Empty() const { return series.empty() && slow.empty() && checkpoints.empty(); }
};

}  // namespace apimeter

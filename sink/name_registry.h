// NameRegistry: the per-day admission registry that numbers names
// (docs/redis-schema.md "Names are ids"). Writer side: Assign gives every
// endpoint, customer and host name of a batch its id for its UTC day.
// Reader side: ReadNameDictionary turns a day's ids back into names.
//
// Promise:
// - A name's id in a day never changes once given, so every host, tier and
//   retry of that day agrees on it; ids of a day and kind are 1, 2, 3, ...
//   in the order names were first admitted (customers start at 2).
// - Reserved ids, never stored: 0 = "other" (every kind), 1 = "anonymous"
//   (customers). A day admits at most its limit of other names per kind
//   (endpoints_per_day, customers_per_day, kHostsPerDay, clients_per_day); a name asked once
//   the day is full gets 0 ("other"), and an admitted name stays admitted
//   whatever the asker's own limit (as v1's admission).
// - Names the cache does not know go to Redis in one round trip: one script
//   call per at most kNamesPerCall names of one (day, kind), in sorted order,
//   so which names take the last free ids does not depend on batch order.
//   Every reply is checked; a bad one fails Assign with the key and reason.
// - Memory: admitted names of the kMaxCachedDays most recent days asked
//   about, each at most the day's limits. Refused names are not cached (a
//   name another writer admitted later must get its id).
// Thread-safety: not thread-safe (it drives one client); one per sink.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"
#include "sink/block_keys.h"
#include "sink/redis_client.h"

namespace apimeter {

inline constexpr uint32_t kOtherId = 0;
inline constexpr uint32_t kAnonymousId = 1;  // customers only

// (day, kind) -> name -> id. Assign fills in the ids of the names it holds.
using NameIds = std::map<std::pair<int64_t, NameKind>, std::unordered_map<std::string, uint32_t>>;

struct RegistryLimits {
  int64_t endpoints_per_day = 2000;
  int64_t customers_per_day = 50000;
  int64_t day_retention_s = 400 * 86400;  // registry keys expire with the day tier
  int64_t clients_per_day = 1000;         // limits.clients_per_day (issue 18 part 2)
};

class NameRegistry {
 public:
  static constexpr size_t kMaxCachedDays = 4;
  static constexpr size_t kNamesPerCall = 500;
  static constexpr int64_t kHostsPerDay = 10000;
  // Ids are stored as 32-bit keys in blocks: a limit must stay below this.
  static constexpr int64_t kMaxLimit = int64_t{1} << 31;

  // InvalidArgument from Assign when a limit is negative or >= kMaxLimit.
  NameRegistry(RedisCommands* client, BlockKeys keys, RegistryLimits limits);

  // Sets the id of every name in *names. Unavailable when Redis cannot be
  // reached; Internal on an error reply or a reply of the wrong shape.
  Status Assign(NameIds* names);

  struct Stats {
    uint64_t calls = 0;     // script calls sent
    uint64_t admitted = 0;  // names answered a new or stored id by Redis
    uint64_t refused = 0;   // names answered "other" because their day was full
  };
  const Stats& stats() const { return stats_; }

  // The first id a new name of `kind` gets (1, or 2 for customers).
  static uint32_t FirstId(NameKind kind) { return kind == NameKind::kCustomer ? 2 : 1; }
  // Reserved names and their ids ("other" -> 0; for customers "anonymous" -> 1).
  static bool ReservedId(NameKind kind, std::string_view name, uint32_t* id);

 private:
  struct Call {
    int64_t day;
    NameKind kind;
    std::vector<std::string> names;
  };
  using DayCache = std::map<NameKind, std::unordered_map<std::string, uint32_t>>;

  int64_t Limit(NameKind kind) const;
  Status Ask(const std::vector<Call>& calls, NameIds* names);
  void Remember(int64_t day, NameKind kind, const std::string& name, uint32_t id);

  RedisCommands* client_;
  BlockKeys keys_;
  RegistryLimits limits_;
  std::map<int64_t, DayCache> cache_;  // day -> admitted names
  Stats stats_;
};

// A day's dictionary of one kind: element i is the name of id i ("" for an
// id not given), with the reserved names in place. ParseError, naming the
// key, when a stored id is not a number in [FirstId, 2^32) or two names
// share an id.
Result<std::vector<std::string>> ReadNameDictionary(RedisCommands& client, const BlockKeys& keys,
                                                    int64_t day, NameKind kind);

}  // namespace apimeter

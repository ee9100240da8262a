// StoreDump: every key under a prefix, read from one Redis or from every
// master of a Redis Cluster, in a canonical form, so that tests can compare
// what two deployments (standalone and cluster) stored, field for field.
//
// Promise: DumpStore reads with SCAN (a test-only tool: the product never
// scans) and pipelined reads; a key that vanishes between SCAN and the read
// is reported as an error, not skipped. Values are canonical: hash fields,
// set members and sorted-set members sorted by name, so two dumps of the same
// data compare equal whatever the insertion order. KeyCategory names what a
// key is by the schema (docs/redis-schema.md), so a test can say which kinds
// of keys differ and check that every kind was covered.
// Not thread-safe (it drives its own connections).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sink/redis_client.h"

namespace apimeter::testing {

struct StoredKey {
  std::string type;       // "string", "hash", "zset", "set", "list"
  std::string value;      // canonical text of the contents
  int64_t expire_at = 0;  // EXPIRETIME: epoch seconds, -1 without expiry

  bool operator==(const StoredKey&) const = default;
};

using StoreDump = std::map<std::string, StoredKey>;

// Every key matching "<prefix>:*" on each node (give every master of a
// cluster, or the one standalone server).
Result<StoreDump> DumpStore(const std::vector<RedisEndpoint>& nodes, const std::string& prefix);

// What a key under `prefix` is, by the schema: "<tier>:<kind>" for bucket
// data (tier m/h/d; kind all, h, e, c, ce, max, ie, ic, icb, ih, ice), and
// "slow", "registry", "checkpoint", "token", "journal", "pending", "marker",
// "agent"; "unknown" for anything else.
std::string KeyCategory(std::string_view prefix, std::string_view key);

}  // namespace apimeter::testing

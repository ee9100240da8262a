// AlertStore: the evaluator's lease, its state, the alert history and the
// notification outbox in Redis (docs/redis-schema.md, "Alerts").
//
// Promise: all keys live under "<prefix>:{alerts}:" (one hash slot, so the
// Lua scripts are valid in Redis Cluster). The lease is SET NX PX with this
// store's owner token; only the owner renews or releases it, and it is free
// again once it expires, so a dead holder is replaced within lease_ttl.
// Commit writes the state, the new events (history, newest first, capped)
// and the outbox entries in one script that first checks the lease is still
// this owner's: an evaluator that lost its lease can change nothing, so two
// evaluators never both record (or notify) the same transition. PopOutbox is
// LPOP: each entry is handed to exactly one deliverer. Bounded: history at
// `history_cap` events, outbox at kMaxOutbox entries (oldest dropped).
// Thread-safety: not thread-safe (it drives one RedisClient).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alerts/engine.h"
#include "common/result.h"
#include "sink/redis_client.h"

namespace apimeter {

// One notification to send: an event for one webhook.
struct OutboxEntry {
  std::string webhook;
  AlertEvent event;
};
std::string EncodeOutboxEntry(const OutboxEntry& e);
Result<OutboxEntry> DecodeOutboxEntry(const std::string& text);

class AlertStore {
 public:
  static constexpr int64_t kMaxOutbox = 10000;

  AlertStore(RedisClient* client, const std::string& prefix, std::string owner,
             int64_t history_cap);

  const std::string& owner() const { return owner_; }
  // Takes the lease when it is free, or renews it when this owner holds it.
  Result<bool> AcquireLease(int64_t ttl_ms);
  Status ReleaseLease();
  // The stored state; an empty state (last_minute -1) when there is none.
  Result<AlertState> LoadState();
  // Aborted when the lease is not (or no longer) this owner's.
  Status Commit(const AlertState& state, const std::vector<AlertEvent>& events,
                const std::vector<OutboxEntry>& outbox, int64_t ttl_ms);
  // Newest first, at most `limit`.
  Result<std::vector<AlertEvent>> History(int64_t limit);
  Result<std::optional<OutboxEntry>> PopOutbox();

  std::string LeaseKey() const { return base_ + "lease"; }
  std::string StateKey() const { return base_ + "state"; }
  std::string HistoryKey() const { return base_ + "history"; }
  std::string OutboxKey() const { return base_ + "outbox"; }

 private:
  RedisClient* client_;
  std::string base_;  // "<prefix>:{alerts}:"
  std::string owner_;
  int64_t history_cap_;
};

// A random owner token: host name, pid and 64 random bits.
std::string NewLeaseOwner();

}  // namespace apimeter

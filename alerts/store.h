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
// evaluators never both record (or notify) the same transition. A commit
// whose minutes are already stored (a Redis Cluster client resending it after
// an I/O error) writes nothing a second time.
//
// Delivery is at least once and in order (docs/alerts.md, "Delivery"):
// each webhook has its own queue. A deliverer claims a webhook's queue (a
// claim key with this owner's token, SET NX PX, like the lease) and sends
// its head; the head leaves the queue only on Ack (after a 2xx) or GiveUp
// (after the last retry: into the bounded dead-letter list). A deliverer
// that dies leaves the head in place; once its claim expires, the next
// deliverer sends the same entry again, with the same idempotency key, and
// nothing behind it overtakes it (a resolve never arrives before its
// trigger). Bounded: history at `history_cap` events, each queue at
// kMaxOutbox entries (oldest dropped), dead letters at kMaxDead.
// Thread-safety: not thread-safe (it drives one Redis client).
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
  // Alertmanager only: a repeat of a firing alert (minute = the pass that
  // repeated it) that keeps it active there (docs/alerts.md, "Alertmanager").
  bool repeat = false;
  // Receivers dedupe on it (Idempotency-Key header, and in the JSON payload):
  // the same for every delivery of this entry, redeliveries included.
  std::string key;
};
std::string EncodeOutboxEntry(const OutboxEntry& e);
Result<OutboxEntry> DecodeOutboxEntry(const std::string& text);
// 32 hex digits of SHA-256 over webhook, rule, scope, name, kind (or
// "repeat") and minute: the same event for the same webhook always gets the
// same key, whoever evaluates it.
std::string IdempotencyKey(const std::string& webhook, const AlertEvent& e, bool repeat);

// The head of a webhook's queue, claimed and not yet acknowledged: `raw` is
// its stored form, the handle for Ack / GiveUp.
struct ClaimedEntry {
  std::string raw;
  Result<OutboxEntry> entry = Status::ParseError("unset");  // a bad entry: GiveUp(raw)
};

class AlertStore {
 public:
  static constexpr int64_t kMaxOutbox = 10000;
  static constexpr int64_t kMaxDead = 1000;

  AlertStore(RedisCommands* client, const std::string& prefix, std::string owner,
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

  // Claims `webhook`'s queue for claim_ms (or renews this owner's claim)
  // and returns its head; nullopt when the queue is empty (the claim is
  // dropped) or another deliverer's claim on it is still alive.
  Result<std::optional<ClaimedEntry>> Claim(const std::string& webhook, int64_t claim_ms);
  // Extends this owner's claim to now + claim_ms; false when it was lost
  // (it expired, and another deliverer may be sending the same head).
  Result<bool> RenewClaim(const std::string& webhook, int64_t claim_ms);
  // Delivered: removes the head if it is still `raw`.
  Status Ack(const std::string& webhook, const std::string& raw);
  // Not deliverable: the head (if still `raw`) into the dead letters
  // (newest first, kMaxDead).
  Status GiveUp(const std::string& webhook, const std::string& raw);
  // Drops this owner's claim (the head stays, for the next deliverer).
  Status Release(const std::string& webhook);
  // Entries queued for these webhooks, queues claimed, dead letters.
  struct Sizes {
    int64_t queued = 0, claimed = 0, dead = 0;
  };
  Result<Sizes> OutboxSizes(const std::vector<std::string>& webhooks);
  // Moves what an older version left in the single outbox list into the
  // webhooks' queues (entries for unknown webhooks into the dead letters).
  Status MigrateLegacyOutbox(const std::vector<std::string>& webhooks);

  std::string LeaseKey() const { return base_ + "lease"; }
  std::string StateKey() const { return base_ + "state"; }
  std::string HistoryKey() const { return base_ + "history"; }
  std::string OutboxKey(const std::string& webhook) const { return base_ + "outbox:" + webhook; }
  std::string ClaimKey(const std::string& webhook) const { return base_ + "claim:" + webhook; }
  std::string DeadKey() const { return base_ + "dead"; }
  std::string LegacyOutboxKey() const { return base_ + "outbox"; }

 private:
  Status Script(const RedisArgs& args, const char* doing);

  RedisCommands* client_;
  std::string base_;  // "<prefix>:{alerts}:"
  std::string owner_;
  int64_t history_cap_;
};

// A random owner token: host name, pid and 64 random bits.
std::string NewLeaseOwner();

}  // namespace apimeter

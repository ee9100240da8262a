// AlertStore: lease, state, history and outbox in Redis (see store.h).
#include "alerts/store.h"

#include <unistd.h>

#include <climits>
#include <random>

namespace apimeter {
namespace {

constexpr const char* kRenewScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0)lua";

constexpr const char* kReleaseScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0)lua";

// KEYS: lease, state, history, outbox. ARGV: owner, ttl_ms, state, history
// cap, outbox cap, event count, events..., outbox entries...
constexpr const char* kCommitScript = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
local nev = tonumber(ARGV[6])
for i = 1, nev do redis.call('LPUSH', KEYS[3], ARGV[6 + i]) end
if nev > 0 then redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1) end
if #ARGV > 6 + nev then
  for i = 7 + nev, #ARGV do redis.call('RPUSH', KEYS[4], ARGV[i]) end
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[5]), -1)
end
return 1)lua";

Status ReplyError(const RedisReply& r, const char* doing) {
  return Status::Unavailable(std::string(doing) + ": " + r.str);
}

}  // namespace

std::string EncodeOutboxEntry(const OutboxEntry& e) {
  return nlohmann::json{{"webhook", e.webhook}, {"event", AlertEventToJson(e.event)}}.dump();
}

Result<OutboxEntry> DecodeOutboxEntry(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("webhook") || !j["webhook"].is_string() ||
      !j.contains("event")) {
    return Status::ParseError("alert outbox entry is not {webhook, event}");
  }
  APIMETER_ASSIGN_OR_RETURN(AlertEvent ev, AlertEventFromJson(j["event"]));
  return OutboxEntry{j["webhook"].get<std::string>(), std::move(ev)};
}

AlertStore::AlertStore(RedisClient* client, const std::string& prefix, std::string owner,
                       int64_t history_cap)
    : client_(client),
      base_(prefix + ":{alerts}:"),
      owner_(std::move(owner)),
      history_cap_(history_cap) {}

Result<bool> AlertStore::AcquireLease(int64_t ttl_ms) {
  const std::string ttl = std::to_string(ttl_ms);
  APIMETER_ASSIGN_OR_RETURN(RedisReply set,
                            client_->Command({"SET", LeaseKey(), owner_, "NX", "PX", ttl}));
  if (set.is_error()) return ReplyError(set, "taking the alert lease");
  if (set.type == RedisReply::Type::kStatus) return true;
  APIMETER_ASSIGN_OR_RETURN(RedisReply renew,
                            client_->Command({"EVAL", kRenewScript, "1", LeaseKey(), owner_, ttl}));
  if (renew.is_error()) return ReplyError(renew, "renewing the alert lease");
  return renew.integer == 1;
}

Status AlertStore::ReleaseLease() {
  Result<RedisReply> r = client_->Command({"EVAL", kReleaseScript, "1", LeaseKey(), owner_});
  if (!r.ok()) return r.status();
  if (r->is_error()) return ReplyError(*r, "releasing the alert lease");
  return Status::Ok();
}

Result<AlertState> AlertStore::LoadState() {
  APIMETER_ASSIGN_OR_RETURN(RedisReply r, client_->Command({"GET", StateKey()}));
  if (r.is_error()) return ReplyError(r, "reading the alert state");
  if (r.is_nil()) return AlertState{};
  nlohmann::json j = nlohmann::json::parse(r.str, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::ParseError(StateKey() + " is not JSON");
  return AlertStateFromJson(j);
}

Status AlertStore::Commit(const AlertState& state, const std::vector<AlertEvent>& events,
                          const std::vector<OutboxEntry>& outbox, int64_t ttl_ms) {
  RedisArgs args = {"EVAL",
                    kCommitScript,
                    "4",
                    LeaseKey(),
                    StateKey(),
                    HistoryKey(),
                    OutboxKey(),
                    owner_,
                    std::to_string(ttl_ms),
                    AlertStateToJson(state).dump(),
                    std::to_string(history_cap_),
                    std::to_string(kMaxOutbox),
                    std::to_string(events.size())};
  for (const AlertEvent& e : events) args.push_back(AlertEventToJson(e).dump());
  for (const OutboxEntry& o : outbox) args.push_back(EncodeOutboxEntry(o));
  APIMETER_ASSIGN_OR_RETURN(RedisReply r, client_->Command(args));
  if (r.is_error()) return ReplyError(r, "committing the alert state");
  if (r.integer != 1) {
    return Status::Aborted("the alert lease is held by another evaluator; nothing written");
  }
  return Status::Ok();
}

Result<std::vector<AlertEvent>> AlertStore::History(int64_t limit) {
  APIMETER_ASSIGN_OR_RETURN(
      RedisReply r, client_->Command({"LRANGE", HistoryKey(), "0", std::to_string(limit - 1)}));
  if (r.is_error()) return ReplyError(r, "reading the alert history");
  std::vector<AlertEvent> out;
  for (const RedisReply& e : r.elements) {
    nlohmann::json j = nlohmann::json::parse(e.str, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
      return Status::ParseError(HistoryKey() + " holds an entry that is not JSON");
    APIMETER_ASSIGN_OR_RETURN(AlertEvent ev, AlertEventFromJson(j));
    out.push_back(std::move(ev));
  }
  return out;
}

Result<std::optional<OutboxEntry>> AlertStore::PopOutbox() {
  APIMETER_ASSIGN_OR_RETURN(RedisReply r, client_->Command({"LPOP", OutboxKey()}));
  if (r.is_error()) return ReplyError(r, "reading the alert outbox");
  if (r.is_nil()) return std::optional<OutboxEntry>();
  APIMETER_ASSIGN_OR_RETURN(OutboxEntry e, DecodeOutboxEntry(r.str));
  return std::optional<OutboxEntry>(std::move(e));
}

std::string NewLeaseOwner() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + hex;
}

}  // namespace apimeter

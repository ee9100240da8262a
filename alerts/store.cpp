// AlertStore: lease, state, history and outbox in Redis (see store.h).
#include "alerts/store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
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

constexpr const char* kReleaseLeaseScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0)lua";

// KEYS: lease, state, history, then the queues of the webhooks written to.
// ARGV: owner, ttl_ms, state, history cap, queue cap, the state's last
// minute, event count, events..., then (KEYS index, entry) pairs. A state
// already at (or past) that minute means this very commit was applied
// before (a cluster client resends after an I/O error): nothing is written.
constexpr const char* kCommitScript = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local cur = redis.call('GET', KEYS[2])
if cur then
  local ok, st = pcall(cjson.decode, cur)
  if ok and type(st) == 'table' and tonumber(st.last_minute) and
     tonumber(st.last_minute) >= tonumber(ARGV[6]) then return 2 end
end
redis.call('SET', KEYS[2], ARGV[3])
local nev = tonumber(ARGV[7])
for i = 1, nev do redis.call('LPUSH', KEYS[3], ARGV[7 + i]) end
if nev > 0 then redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1) end
for i = 8 + nev, #ARGV, 2 do redis.call('RPUSH', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) end
for k = 4, #KEYS do redis.call('LTRIM', KEYS[k], -tonumber(ARGV[5]), -1) end
return 1)lua";

// KEYS: claim, queue. ARGV: owner, claim_ms. The head, if this owner holds
// (or now takes) the claim; the claim is dropped when the queue is empty.
constexpr const char* kClaimScript = R"lua(
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head then redis.call('DEL', KEYS[1]) return false end
return head)lua";

// KEYS: claim. ARGV: owner, claim_ms.
constexpr const char* kRenewClaimScript = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1)lua";

// KEYS: queue, dead (or the queue again). ARGV: entry, dead cap ("0": drop).
constexpr const char* kPopHeadScript = R"lua(
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
end
return 1)lua";

// KEYS: claim. ARGV: owner.
constexpr const char* kReleaseClaimScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0)lua";

// KEYS: legacy outbox, dead, the webhooks' queues. ARGV: their names, in the
// same order as their queues.
constexpr const char* kMigrateScript = R"lua(
local n = 0
while true do
  local e = redis.call('LPOP', KEYS[1])
  if not e then return n end
  local ok, j = pcall(cjson.decode, e)
  local to = KEYS[2]
  if ok and type(j) == 'table' then
    for i = 1, #ARGV do if ARGV[i] == j.webhook then to = KEYS[2 + i] end end
  end
  redis.call('RPUSH', to, e)
  n = n + 1
end)lua";

Status ReplyError(const RedisReply& r, const char* doing) {
  return Status::Unavailable(std::string(doing) + ": " + r.str);
}

}  // namespace

std::string EncodeOutboxEntry(const OutboxEntry& e) {
  nlohmann::json j{{"webhook", e.webhook}, {"event", AlertEventToJson(e.event)}, {"key", e.key}};
  if (e.repeat) j["repeat"] = true;
  return j.dump();
}

std::string IdempotencyKey(const std::string& webhook, const AlertEvent& e, bool repeat) {
  const std::string text = webhook + '\x1f' + e.rule + '\x1f' + e.scope + '\x1f' + e.name +
                           '\x1f' + (repeat ? std::string("repeat") : e.kind) + '\x1f' +
                           std::to_string(e.minute_s);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 16 && i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<OutboxEntry> DecodeOutboxEntry(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("webhook") || !j["webhook"].is_string() ||
      !j.contains("event")) {
    return Status::ParseError("alert outbox entry is not {webhook, event}");
  }
  APIMETER_ASSIGN_OR_RETURN(AlertEvent ev, AlertEventFromJson(j["event"]));
  OutboxEntry e{j["webhook"].get<std::string>(), std::move(ev)};
  e.repeat = j.value("repeat", false);
  // Entries written before keys existed get theirs now (deterministic, so
  // every delivery of them still carries the same key).
  e.key = j.contains("key") && j["key"].is_string() ? j["key"].get<std::string>()
                                                     : IdempotencyKey(e.webhook, e.event, e.repeat);
  return e;
}

AlertStore::AlertStore(RedisCommands* client, const std::string& prefix, std::string owner,
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
  Result<RedisReply> r = client_->Command({"EVAL", kReleaseLeaseScript, "1", LeaseKey(), owner_});
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
  std::vector<std::string> queues;  // KEYS[4..]
  std::vector<std::string> pairs;
  for (const OutboxEntry& o : outbox) {
    const std::string key = OutboxKey(o.webhook);
    auto it = std::find(queues.begin(), queues.end(), key);
    if (it == queues.end()) it = queues.insert(queues.end(), key);
    pairs.push_back(std::to_string(4 + (it - queues.begin())));
    pairs.push_back(EncodeOutboxEntry(o));
  }
  RedisArgs args = {"EVAL", kCommitScript, std::to_string(3 + queues.size()), LeaseKey(),
                    StateKey(), HistoryKey()};
  args.insert(args.end(), queues.begin(), queues.end());
  for (const std::string& a : {owner_, std::to_string(ttl_ms), AlertStateToJson(state).dump(),
                               std::to_string(history_cap_), std::to_string(kMaxOutbox),
                               std::to_string(state.last_minute), std::to_string(events.size())}) {
    args.push_back(a);
  }
  for (const AlertEvent& e : events) args.push_back(AlertEventToJson(e).dump());
  args.insert(args.end(), pairs.begin(), pairs.end());
  APIMETER_ASSIGN_OR_RETURN(RedisReply r, client_->Command(args));
  if (r.is_error()) return ReplyError(r, "committing the alert state");
  if (r.integer == 0) {
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

Result<std::optional<ClaimedEntry>> AlertStore::Claim(const std::string& webhook,
                                                      int64_t claim_ms) {
  APIMETER_ASSIGN_OR_RETURN(RedisReply r,
                            client_->Command({"EVAL", kClaimScript, "2", ClaimKey(webhook),
                                              OutboxKey(webhook), owner_,
                                              std::to_string(claim_ms)}));
  if (r.is_error()) return ReplyError(r, "claiming an alert notification");
  if (r.is_nil()) return std::optional<ClaimedEntry>();
  ClaimedEntry c;
  c.raw = r.str;
  c.entry = DecodeOutboxEntry(r.str);
  return std::optional<ClaimedEntry>(std::move(c));
}

Result<bool> AlertStore::RenewClaim(const std::string& webhook, int64_t claim_ms) {
  APIMETER_ASSIGN_OR_RETURN(RedisReply r,
                            client_->Command({"EVAL", kRenewClaimScript, "1", ClaimKey(webhook),
                                              owner_, std::to_string(claim_ms)}));
  if (r.is_error()) return ReplyError(r, "renewing an alert notification claim");
  return r.integer == 1;
}

Status AlertStore::Script(const RedisArgs& args, const char* doing) {
  APIMETER_ASSIGN_OR_RETURN(RedisReply r, client_->Command(args));
  if (r.is_error()) return ReplyError(r, doing);
  return Status::Ok();
}

Status AlertStore::Ack(const std::string& webhook, const std::string& raw) {
  return Script({"EVAL", kPopHeadScript, "2", OutboxKey(webhook), OutboxKey(webhook), raw, "0"},
                "acknowledging an alert notification");
}

Status AlertStore::GiveUp(const std::string& webhook, const std::string& raw) {
  return Script({"EVAL", kPopHeadScript, "2", OutboxKey(webhook), DeadKey(), raw,
                 std::to_string(kMaxDead)},
                "moving an alert notification to the dead letters");
}

Status AlertStore::Release(const std::string& webhook) {
  return Script({"EVAL", kReleaseClaimScript, "1", ClaimKey(webhook), owner_},
                "releasing an alert notification claim");
}

Result<AlertStore::Sizes> AlertStore::OutboxSizes(const std::vector<std::string>& webhooks) {
  std::vector<RedisArgs> cmds;
  for (const std::string& w : webhooks) {
    cmds.push_back({"LLEN", OutboxKey(w)});
    cmds.push_back({"EXISTS", ClaimKey(w)});
  }
  cmds.push_back({"LLEN", DeadKey()});
  APIMETER_ASSIGN_OR_RETURN(std::vector<RedisReply> r, client_->Pipeline(cmds));
  Sizes out;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].is_error()) return ReplyError(r[i], "reading the alert outbox sizes");
    if (i + 1 == r.size()) {
      out.dead = r[i].integer;
    } else {
      (i % 2 == 0 ? out.queued : out.claimed) += r[i].integer;
    }
  }
  return out;
}

Status AlertStore::MigrateLegacyOutbox(const std::vector<std::string>& webhooks) {
  RedisArgs args = {"EVAL", kMigrateScript, std::to_string(2 + webhooks.size()),
                    LegacyOutboxKey(), DeadKey()};
  for (const std::string& w : webhooks) args.push_back(OutboxKey(w));
  args.insert(args.end(), webhooks.begin(), webhooks.end());
  return Script(args, "moving the old alert outbox into the webhooks' queues");
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

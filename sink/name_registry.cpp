// NameRegistry: admission and numbering of names per UTC day (see header).
#include "sink/name_registry.h"

#include <algorithm>
#include <charconv>

#include "common/time_util.h"
#include "sink/redis_sink.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

// Answers the id of each name, giving a new name the next id while the day
// has room (HLEN < limit), else 0 ("other"). A stored name keeps its id
// whatever the limit. The keys get their expiry when a call creates the
// names hash (HLEN was 0; both keys are written only here and expire
// together), so later calls do not repeat it.
// Cost: one HMGET for every name and one HSET for all new ones, not a
// command per name (a backfill numbers ~10,000 names a day; this is most of
// its Redis commands otherwise). The names of one call are distinct (the
// caller sends each name once), so reading them all before writing gives
// the same ids as asking one at a time.
// KEYS[1] name -> id hash, KEYS[2] last id per kind; ARGV[1] kind letter,
// ARGV[2] limit, ARGV[3] first id, ARGV[4] expire-at, ARGV[5..] names.
constexpr const char* kAssignScript =
    "local lim=tonumber(ARGV[2]) local used=redis.call('HLEN',KEYS[1]) local created=used==0 "
    "local last=tonumber(redis.call('HGET',KEYS[2],ARGV[1]) or (tonumber(ARGV[3])-1)) "
    "local have=redis.call('HMGET',KEYS[1],unpack(ARGV,5,#ARGV)) "
    "local out={} local new={} "
    "for i=5,#ARGV do "
    "local id=have[i-4] "
    "if id then out[#out+1]=tonumber(id) "
    "elseif used<lim then last=last+1 used=used+1 "
    "new[#new+1]=ARGV[i] new[#new+1]=last out[#out+1]=last "
    "else out[#out+1]=0 end end "
    "if #new>0 then redis.call('HSET',KEYS[1],unpack(new)) "
    "redis.call('HSET',KEYS[2],ARGV[1],last) "
    "if created then redis.call('EXPIREAT',KEYS[1],ARGV[4]) "
    "redis.call('EXPIREAT',KEYS[2],ARGV[4]) end end "
    "return out";

const char* KindName(NameKind kind) {
  switch (kind) {
    case NameKind::kEndpoint: return "endpoint";
    case NameKind::kCustomer: return "customer";
    case NameKind::kHost: return "host";
    case NameKind::kClient: return "client";
  }
  return "name";
}

}  // namespace

NameRegistry::NameRegistry(RedisCommands* client, BlockKeys keys, RegistryLimits limits)
    : client_(client), keys_(std::move(keys)), limits_(limits) {}

bool NameRegistry::ReservedId(NameKind kind, std::string_view name, uint32_t* id) {
  if (name == kOtherName) {
    *id = kOtherId;
    return true;
  }
  if (kind == NameKind::kCustomer && name == kAnonymousName) {
    *id = kAnonymousId;
    return true;
  }
  return false;
}

int64_t NameRegistry::Limit(NameKind kind) const {
  switch (kind) {
    case NameKind::kEndpoint: return limits_.endpoints_per_day;
    case NameKind::kCustomer: return limits_.customers_per_day;
    case NameKind::kHost: return kHostsPerDay;
    case NameKind::kClient: return limits_.clients_per_day;
  }
  return 0;
}

Status NameRegistry::Assign(NameIds* names) {
  for (NameKind kind : {NameKind::kEndpoint, NameKind::kCustomer, NameKind::kClient}) {
    if (Limit(kind) < 0 || Limit(kind) >= kMaxLimit) {
      return Status::InvalidArgument(std::string("registry: the ") + KindName(kind) +
                                     " limit per day must be in [0, 2^31), not " +
                                     std::to_string(Limit(kind)));
    }
  }
  // Reserved and cached names locally; the rest, sorted, to Redis.
  std::vector<Call> calls;
  for (auto& [day_kind, ids] : *names) {
    const auto [day, kind] = day_kind;
    const auto cached_day = cache_.find(day);
    const std::unordered_map<std::string, uint32_t>* cached = nullptr;
    if (cached_day != cache_.end()) {
      auto it = cached_day->second.find(kind);
      if (it != cached_day->second.end()) cached = &it->second;
    }
    std::vector<std::string> ask;
    for (auto& [name, id] : ids) {
      if (ReservedId(kind, name, &id)) continue;
      if (cached != nullptr) {
        auto hit = cached->find(name);
        if (hit != cached->end()) {
          id = hit->second;
          continue;
        }
      }
      ask.push_back(name);
    }
    std::sort(ask.begin(), ask.end());
    for (size_t first = 0; first < ask.size(); first += kNamesPerCall) {
      const size_t last = std::min(ask.size(), first + kNamesPerCall);
      calls.push_back({day, kind, {ask.begin() + first, ask.begin() + last}});
    }
  }
  if (calls.empty()) return Status::Ok();
  return Ask(calls, names);
}

Status NameRegistry::Ask(const std::vector<Call>& calls, NameIds* names) {
  std::vector<RedisArgs> cmds;
  cmds.reserve(calls.size());
  for (const Call& c : calls) {
    const int64_t expire_at =
        sink_internal::BucketEnd(Tier::kDay, c.day) + limits_.day_retention_s;
    RedisArgs a{"EVAL",
                kAssignScript,
                "2",
                keys_.RegistryKey(c.day, c.kind),
                keys_.RegistryCounterKey(c.day),
                std::string(1, static_cast<char>(c.kind)),
                std::to_string(Limit(c.kind)),
                std::to_string(FirstId(c.kind)),
                std::to_string(expire_at)};
    a.insert(a.end(), c.names.begin(), c.names.end());
    cmds.push_back(std::move(a));
  }
  stats_.calls += cmds.size();
  auto replies = client_->Pipeline(cmds);
  if (!replies.ok()) return replies.status().WithContext("name registry");
  if (replies->size() != calls.size()) {
    return Status::Internal("name registry: " + std::to_string(replies->size()) + " replies to " +
                            std::to_string(calls.size()) + " calls");
  }
  // Check every reply before using any, so a bad one changes nothing.
  for (size_t i = 0; i < calls.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    const std::string key = keys_.RegistryKey(calls[i].day, calls[i].kind);
    if (r.is_error()) return Status::Internal("name registry " + key + ": " + r.str);
    if (r.type != RedisReply::Type::kArray || r.elements.size() != calls[i].names.size()) {
      return Status::Internal("name registry " + key + ": expected one id per name");
    }
    for (size_t j = 0; j < r.elements.size(); ++j) {
      const RedisReply& e = r.elements[j];
      const uint32_t first = FirstId(calls[i].kind);
      if (e.type != RedisReply::Type::kInteger ||
          (e.integer != 0 && (e.integer < first || e.integer >= kMaxLimit + first))) {
        return Status::Internal("name registry " + key + ": bad id for '" + calls[i].names[j] +
                                "': " + (e.type == RedisReply::Type::kInteger
                                             ? std::to_string(e.integer)
                                             : std::string("not an integer")));
      }
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    auto& ids = (*names)[{calls[i].day, calls[i].kind}];
    for (size_t j = 0; j < calls[i].names.size(); ++j) {
      const auto id = static_cast<uint32_t>((*replies)[i].elements[j].integer);
      ids[calls[i].names[j]] = id;
      if (id == kOtherId) {
        ++stats_.refused;
      } else {
        ++stats_.admitted;
        Remember(calls[i].day, calls[i].kind, calls[i].names[j], id);
      }
    }
  }
  return Status::Ok();
}

void NameRegistry::Remember(int64_t day, NameKind kind, const std::string& name, uint32_t id) {
  // Keep the most recent days: live traffic is about today (and yesterday
  // around midnight); a backfill of old days just asks again.
  if (cache_.size() >= kMaxCachedDays && cache_.find(day) == cache_.end() &&
      day < cache_.begin()->first) {
    return;
  }
  cache_[day][kind][name] = id;
  while (cache_.size() > kMaxCachedDays) cache_.erase(cache_.begin());
}

Result<std::vector<std::string>> ReadNameDictionary(RedisCommands& client, const BlockKeys& keys,
                                                    int64_t day, NameKind kind) {
  const std::string key = keys.RegistryKey(day, kind);
  auto r = client.Command({"HGETALL", key});
  if (!r.ok()) return r.status().WithContext("reading " + key);
  if (r->is_error()) return Status::Internal("reading " + key + ": " + r->str);
  if (r->type != RedisReply::Type::kArray || r->elements.size() % 2 != 0) {
    return Status::ParseError(key + ": not a name -> id hash");
  }
  const uint32_t first = NameRegistry::FirstId(kind);
  const size_t entries = r->elements.size() / 2;
  // Ids are given 1, 2, 3, ... by one script, so they lie below first +
  // entries; anything else (a hand edit) would let a reply size the vector.
  std::vector<std::string> names(first + entries);
  std::vector<bool> given(names.size(), false);
  names[kOtherId] = std::string(kOtherName);
  if (kind == NameKind::kCustomer) names[kAnonymousId] = std::string(kAnonymousName);
  for (size_t i = 0; i < entries; ++i) {
    const std::string& name = r->elements[2 * i].str;
    const std::string& text = r->elements[2 * i + 1].str;
    uint64_t id = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || p != text.data() + text.size() || id < first || id >= names.size()) {
      return Status::ParseError(key + ": name '" + name + "' has id '" + text + "', outside [" +
                                std::to_string(first) + ", " + std::to_string(names.size()) + ")");
    }
    if (given[id]) {
      return Status::ParseError(key + ": names '" + names[id] + "' and '" + name +
                                "' share id " + text);
    }
    names[id] = name;
    given[id] = true;
  }
  return names;
}

}  // namespace apimeter

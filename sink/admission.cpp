// RedisSink's side of the cardinality registry (docs/redis-schema.md,
// "Cardinality registry"): which endpoint and customer names a day admits,
// and the rewrite of the others to "other".
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>

#include "sink/redis_sink.h"
#include "sink/sink_internal.h"

namespace apimeter {
namespace {

using sink_internal::DayOfBucket;
using sink_internal::DayOfMicros;

// Adds each name while the set holds fewer than the limit and answers 1/0 for
// membership. Idempotent: once in, always in; once full, no newcomer, so every
// host and every retry of a day gets the same answer.
// KEYS[1] registry set; ARGV[1] limit; ARGV[2] expire-at; ARGV[3..] names.
constexpr const char* kAdmitScript =
    "local lim=tonumber(ARGV[1]) local out={} "
    "for i=3,#ARGV do "
    "if redis.call('SISMEMBER',KEYS[1],ARGV[i])==1 then out[#out+1]=1 "
    "elseif redis.call('SCARD',KEYS[1])<lim then redis.call('SADD',KEYS[1],ARGV[i]) out[#out+1]=1 "
    "else out[#out+1]=0 end end "
    "redis.call('EXPIREAT',KEYS[1],ARGV[2]) return out";

// Names per EVAL: keeps each script call short so Redis stays responsive.
constexpr size_t kNamesPerEval = 1000;

bool AlwaysAdmitted(std::string_view name) { return name == kOtherName || name == kAnonymousName; }

std::pair<std::string_view, std::string_view> SplitCustomerEndpoint(std::string_view name) {
  const size_t sep = name.find(kNameSeparator);
  return {name.substr(0, sep), name.substr(sep + 1)};
}

// Calls f(day, kind, name) for every endpoint ('e') and customer ('c') name in the batch.
template <typename F>
void ForEachName(const FlushBatch& batch, F&& f) {
  for (const SeriesDelta& d : batch.series) {
    const int64_t day = DayOfBucket(d.tier, d.bucket);
    if (d.kind == SeriesKind::kEndpoint) f(day, 'e', std::string_view(d.name));
    if (d.kind == SeriesKind::kCustomer) f(day, 'c', std::string_view(d.name));
    if (d.kind == SeriesKind::kCustomerEndpoint) {
      auto [customer, endpoint] = SplitCustomerEndpoint(d.name);
      f(day, 'c', customer);
      f(day, 'e', endpoint);
    }
  }
  for (const SlowRequest& s : batch.slow) {
    const int64_t day = DayOfMicros(s.time_us);
    f(day, 'e', std::string_view(s.endpoint));
    f(day, 'c', std::string_view(s.customer));
  }
}

std::string MergeKey(const SeriesDelta& d) {
  std::string k;
  k.reserve(d.name.size() + 24);
  k += static_cast<char>('0' + static_cast<int>(d.tier));
  k += static_cast<char>('0' + static_cast<int>(d.kind));
  k += std::to_string(d.bucket);
  k += '|';
  k += d.name;
  return k;
}

}  // namespace

bool RedisSink::Admitted(const std::map<int64_t, DayNames>& fresh, int64_t day, char kind,
                         const std::string& name) const {
  if (AlwaysAdmitted(name)) return true;
  for (const auto* m : {&admitted_, &fresh}) {
    auto it = m->find(day);
    if (it == m->end()) continue;
    const auto& set = kind == 'e' ? it->second.endpoints : it->second.customers;
    if (set.count(name) != 0) return true;
  }
  return false;
}

Status RedisSink::Admit(FlushBatch* batch) {
  for (const SeriesDelta& d : batch->series) {
    if (d.kind == SeriesKind::kCustomerEndpoint &&
        d.name.find(kNameSeparator) == std::string::npos) {
      return Status::InvalidArgument("flush batch: customer x endpoint series '" + d.name +
                                     "' has no \\x1f separator");
    }
  }
  std::map<int64_t, DayNames> ask, fresh;
  ForEachName(*batch, [&](int64_t day, char kind, std::string_view name) {
    std::string n(name);
    if (Admitted(fresh, day, kind, n)) return;
    auto& set = kind == 'e' ? ask[day].endpoints : ask[day].customers;
    set.insert(std::move(n));
  });
  if (!ask.empty()) APIMETER_RETURN_IF_ERROR(QueryRegistry(ask, &fresh));
  APIMETER_RETURN_IF_ERROR(Rewrite(fresh, batch));
  Remember(fresh);
  return Status::Ok();
}

Status RedisSink::QueryRegistry(const std::map<int64_t, DayNames>& ask,
                                std::map<int64_t, DayNames>* fresh) {
  struct Call {
    int64_t day;
    char kind;
    std::vector<std::string> names;
  };
  std::vector<Call> calls;
  for (const auto& [day, names] : ask) {
    for (char kind : {'e', 'c'}) {
      const auto& set = kind == 'e' ? names.endpoints : names.customers;
      // Sorted, so which names win the last free slots is deterministic.
      std::vector<std::string> sorted(set.begin(), set.end());
      std::sort(sorted.begin(), sorted.end());
      for (std::string& n : sorted) {
        if (calls.empty() || calls.back().day != day || calls.back().kind != kind ||
            calls.back().names.size() >= kNamesPerEval) {
          calls.push_back({day, kind, {}});
        }
        calls.back().names.push_back(std::move(n));
      }
    }
  }
  std::vector<RedisArgs> cmds;
  cmds.reserve(calls.size());
  for (const Call& c : calls) {
    const int64_t limit = c.kind == 'e' ? options_.endpoints_per_day : options_.customers_per_day;
    const int64_t expire_at =
        sink_internal::BucketEnd(Tier::kDay, c.day) + options_.day_retention_s;
    RedisArgs a{"EVAL",
                kAdmitScript,
                "1",
                schema_.RegistryKey(c.day, c.kind),
                std::to_string(limit),
                std::to_string(expire_at)};
    a.insert(a.end(), c.names.begin(), c.names.end());
    cmds.push_back(std::move(a));
  }
  auto replies = client_->Pipeline(cmds);
  if (!replies.ok()) return replies.status().WithContext("admission registry");
  for (size_t i = 0; i < calls.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    if (r.type != RedisReply::Type::kArray || r.elements.size() != calls[i].names.size()) {
      return Status::Internal("admission registry " +
                              schema_.RegistryKey(calls[i].day, calls[i].kind) +
                              ": unexpected reply" + (r.is_error() ? ": " + r.str : std::string()));
    }
    DayNames& day = (*fresh)[calls[i].day];
    for (size_t j = 0; j < r.elements.size(); ++j) {
      const RedisReply& e = r.elements[j];
      if (e.type != RedisReply::Type::kInteger || (e.integer != 0 && e.integer != 1)) {
        return Status::Internal("admission registry " +
                                schema_.RegistryKey(calls[i].day, calls[i].kind) +
                                ": unexpected answer for '" + calls[i].names[j] + "'");
      }
      if (e.integer == 1) {
        (calls[i].kind == 'e' ? day.endpoints : day.customers).insert(calls[i].names[j]);
      } else {
        ++(calls[i].kind == 'e' ? stats_.other_endpoints : stats_.other_customers);
      }
    }
  }
  return Status::Ok();
}

Status RedisSink::Rewrite(const std::map<int64_t, DayNames>& fresh, FlushBatch* batch) const {
  bool changed = false;
  auto admit = [&](int64_t day, char kind, std::string_view name) -> std::string {
    std::string n(name);
    if (Admitted(fresh, day, kind, n)) return n;
    changed = true;
    return std::string(kOtherName);
  };
  for (SeriesDelta& d : batch->series) {
    const int64_t day = DayOfBucket(d.tier, d.bucket);
    if (d.kind == SeriesKind::kEndpoint) d.name = admit(day, 'e', d.name);
    if (d.kind == SeriesKind::kCustomer) d.name = admit(day, 'c', d.name);
    if (d.kind == SeriesKind::kCustomerEndpoint) {
      auto [customer, endpoint] = SplitCustomerEndpoint(d.name);
      d.name = admit(day, 'c', customer) + kNameSeparator + admit(day, 'e', endpoint);
    }
  }
  for (SlowRequest& s : batch->slow) {
    const int64_t day = DayOfMicros(s.time_us);
    s.endpoint = admit(day, 'e', s.endpoint);
    s.customer = admit(day, 'c', s.customer);
  }
  if (!changed) return Status::Ok();
  // Several names became "other" in the same bucket: one delta each, merged.
  std::vector<SeriesDelta> merged;
  std::unordered_map<std::string, size_t> index;
  merged.reserve(batch->series.size());
  for (SeriesDelta& d : batch->series) {
    auto [it, inserted] = index.emplace(MergeKey(d), merged.size());
    if (inserted) {
      merged.push_back(std::move(d));
    } else {
      merged[it->second].rollup.Merge(d.rollup);
    }
  }
  batch->series = std::move(merged);
  return Status::Ok();
}

void RedisSink::Remember(const std::map<int64_t, DayNames>& fresh) {
  for (const auto& [day, names] : fresh) {
    // Keep only the most recent days: live traffic is about today (and
    // yesterday around midnight); a backfill of old days just asks again.
    if (admitted_.size() >= kMaxCachedDays && day < admitted_.begin()->first) continue;
    DayNames& cached = admitted_[day];
    cached.endpoints.insert(names.endpoints.begin(), names.endpoints.end());
    cached.customers.insert(names.customers.begin(), names.customers.end());
    while (admitted_.size() > kMaxCachedDays) admitted_.erase(admitted_.begin());
  }
}

}  // namespace apimeter
